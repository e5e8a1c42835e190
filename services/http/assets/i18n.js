// The page's words in Chinese (the default) and English; `t(key)` picks the current language.
"use strict";
const WORDS = {
  zh: {
    title: "网格化治理指挥中心", window: "统计区间", all_time: "全部", last7: "近7天", last30: "近30天",
    trend_by: "趋势", week: "按周", month: "按月", live: "实时", sign_out: "退出",
    loop_now: "闭环进度（当前）", intake_today: "今日受理", overdue: "已超时", due_soon: "即将超时(2工时)",
    map: "网格态势", map_hint: "颜色：在办案件数 · 点击下钻", dist: "4321 分级处置（实际 vs 目标）",
    ranking: "三率排名", trend: "三率趋势", latest: "最新上报", overdue_list: "超时案件",
    due_soon_list: "2工时内到期", mediation_list: "调解中", col_case: "案件", col_state: "状态",
    col_level: "层级", col_category: "类别", col_when: "时间", signin_hint: "请粘贴 gridloop 令牌（gridloop token issue）登录。",
    sign_in: "登录", case: "案件", timeline: "处置时间线", closed_total: "已结案件", target: "目标", actual: "实际",
    drifted: "偏离预警", tolerance: "容差", no_alerts: "无偏离预警", refused: "无权查看该区域",
    reported: "上报", dispatched: "已派遣", accepted: "已受理", in_mediation: "调解中",
    awaiting_verification: "待核查", resolved: "已办结", closed: "今日结案", rejected: "今日退回",
    grid: "网格", community: "社区", street: "街道", district: "区", unspecified: "—",
    response: "响应率", resolution: "解决率", satisfaction: "满意率", on_time: "按时办结率", rework: "返工率",
    open: "在办", deadline: "期限", unit: "承办单位", settled_level: "办结层级", priority: "优先级",
    department: "部门", grid_code: "网格", empty: "暂无", opened: "上报于", due: "到期",
    patrol: "网格巡查", resident_app: "居民App", hotline: "热线", suggestion_box: "意见箱", walk_in: "来访",
    platform: "平台转入", waiting_list: "公示·回访", notice_period: "公示期", follow_up: "待回访", until: "至",
  },
  en: {
    title: "Grid governance command centre", window: "Window", all_time: "All time", last7: "Last 7 days",
    last30: "Last 30 days", trend_by: "Trend", week: "Weekly", month: "Monthly", live: "LIVE", sign_out: "Sign out",
    loop_now: "The loop now", intake_today: "Intake today", overdue: "Overdue", due_soon: "Due within 2 working h",
    map: "Grid map", map_hint: "colour: open cases · click to drill down", dist: "4321 settlement vs target",
    ranking: "Ranking", trend: "Trend", latest: "Latest reports", overdue_list: "Overdue",
    due_soon_list: "Due within 2 working h", mediation_list: "In mediation", col_case: "Case", col_state: "State",
    col_level: "Level", col_category: "Category", col_when: "When", signin_hint: "Paste a gridloop token (gridloop token issue) to sign in.",
    sign_in: "Sign in", case: "Case", timeline: "Timeline", closed_total: "closed cases", target: "Target", actual: "Actual",
    drifted: "Drift alert", tolerance: "tolerance", no_alerts: "No drift alerts", refused: "Not allowed to view this area",
    reported: "Reported", dispatched: "Dispatched", accepted: "Accepted", in_mediation: "In mediation",
    awaiting_verification: "Awaiting verification", resolved: "Resolved", closed: "Closed today", rejected: "Rejected today",
    grid: "Grid", community: "Community", street: "Street", district: "District", unspecified: "—",
    response: "Response", resolution: "Resolution", satisfaction: "Satisfaction", on_time: "On time", rework: "Rework",
    open: "open", deadline: "Deadline", unit: "Unit", settled_level: "Settled at", priority: "Priority",
    department: "Department", grid_code: "Grid", empty: "None", opened: "opened", due: "due",
    patrol: "Patrol", resident_app: "Resident app", hotline: "Hotline", suggestion_box: "Suggestion box",
    walk_in: "Walk-in", platform: "Platform", waiting_list: "Notice / follow-up", notice_period: "Notice period",
    follow_up: "Follow-up", until: "until",
  },
};
let LANG = localStorage.getItem("gridloop.lang") || "zh";
function t(key) {
  return (WORDS[LANG] && WORDS[LANG][key]) || key;
}
function applyWords() {
  document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.getElementById("lang").textContent = LANG === "zh" ? "EN" : "中文";
}
