//! A reporter's personal data (姓名, 电话, 身份证号): who may see it in a view, and how it is masked
//! for those who may not see it in full. Pure rules; the sealing itself (keys, AEAD) is intake's.
//!
//! - In full: the unit whose area the case lies in (its grid worker, community, street and
//!   district offices), and the hotline or a platform (they call the reporter back, 回访).
//! - Masked (`138****5678`, `张*`): every other reader.
//! - Withheld: supervisors, who read figures and lists, never people.
//!
//! Phone and ID-card numbers typed into free text are masked for every view not entitled to the
//! contact in full.

use crate::access::{Principal, Role};
use crate::jurisdiction::AreaCode;
use serde::{Deserialize, Serialize};

/// A reporter's contact data as every event carries it: each field is `nonce || ciphertext ||
/// tag` under the reporter's data key (`key_ref` in intake's key table); an empty field was not
/// given. `blind_index` is a keyed hash of the reporter's identity: their cases can be found and
/// repeat reporters counted without decrypting anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedContact {
    pub key_ref: String,
    pub blind_index: String,
    pub id: Vec<u8>,
    pub name: Vec<u8>,
    pub phone: Vec<u8>,
}

/// Contact data in the clear.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    pub name: String,
    pub phone: String,
}

impl Contact {
    /// Nothing given: an anonymous report.
    pub fn is_empty(&self) -> bool {
        self.id.is_empty() && self.name.is_empty() && self.phone.is_empty()
    }

    /// What identifies the reporter for their data key and blind index: their id, else their
    /// phone, else their name; `None` for an anonymous report.
    pub fn identity(&self) -> Option<&str> {
        [&self.id, &self.phone, &self.name].into_iter().map(|s| s.trim()).find(|s| !s.is_empty())
    }

    /// The same contact masked: phone `138****5678`, name `张*`, id `320102********1234`.
    pub fn masked(&self) -> Contact {
        Contact { id: mask_digits(&self.id), name: mask_name(&self.name), phone: mask_digits(&self.phone) }
    }
}

/// How much of the contact data a caller may see in a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactAccess {
    Full,
    Masked,
    Withheld,
}

impl ContactAccess {
    /// Whether free text is shown as written (otherwise phone and ID-card numbers are masked).
    pub fn sees_free_text(self) -> bool {
        self == ContactAccess::Full
    }
}

/// What `viewer` may see of the contact of a case in `grid_code`. No principal (a caller that
/// never passed the edge) sees nothing.
pub fn contact_access(viewer: Option<&Principal>, grid_code: &str) -> ContactAccess {
    let Some(viewer) = viewer else { return ContactAccess::Withheld };
    let in_reach = AreaCode::new(grid_code).is_ok_and(|grid| viewer.reaches(&grid));
    match viewer.role {
        Role::Supervisor => ContactAccess::Withheld,
        Role::GridWorker
        | Role::CommunityOffice
        | Role::StreetOffice
        | Role::DistrictOffice
        | Role::Hotline
        | Role::Platform
            if in_reach =>
        {
            ContactAccess::Full
        }
        _ => ContactAccess::Masked,
    }
}

/// What a view shows of a reporter's contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disclosure {
    Full(Contact),
    Masked(Contact),
    Withheld,
    Erased,
    Anonymous,
}

impl Disclosure {
    /// The disclosure of `contact` (`None`: its data key was erased) under `access`.
    pub fn of(contact: Option<Contact>, access: ContactAccess) -> Disclosure {
        match (contact, access) {
            (None, _) => Disclosure::Erased,
            (Some(contact), _) if contact.is_empty() => Disclosure::Anonymous,
            (Some(_), ContactAccess::Withheld) => Disclosure::Withheld,
            (Some(contact), ContactAccess::Masked) => Disclosure::Masked(contact.masked()),
            (Some(contact), ContactAccess::Full) => Disclosure::Full(contact),
        }
    }

    /// The contact fields shown (empty when none are).
    pub fn contact(&self) -> Contact {
        match self {
            Disclosure::Full(contact) | Disclosure::Masked(contact) => contact.clone(),
            _ => Contact::default(),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Disclosure::Full(_) => "full",
            Disclosure::Masked(_) => "masked",
            Disclosure::Withheld => "withheld",
            Disclosure::Erased => "erased",
            Disclosure::Anonymous => "anonymous",
        }
    }
}

/// A name with all but its first character starred: `张三` → `张*`, `欧阳修` → `欧**`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
    }
}

/// A number with its middle starred: a mobile number keeps 3 + 4 digits (`138****5678`), an
/// ID-card number 6 + 4 (`320102********1234`), anything else its last 2.
pub fn mask_digits(value: &str) -> String {
    let value = value.trim();
    let chars: Vec<char> = value.chars().collect();
    let (head, tail) = match chars.len() {
        0 => return String::new(),
        _ if is_mobile(value) => (3, 4),
        _ if is_id_card(value) => (6, 4),
        n if n > 4 => (0, 2),
        _ => (0, 0),
    };
    let stars = chars.len() - head - tail;
    chars[..head].iter().chain(std::iter::repeat_n(&'*', stars)).chain(&chars[chars.len() - tail..]).collect()
}

/// `text` with every mainland mobile number (`1[3-9]` + 9 digits) and 18-digit ID-card number
/// (17 digits + a digit or X) masked, matched as whole runs of digits so that longer numbers
/// (order numbers, coordinates) are left alone.
pub fn mask_free_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        // An ID-card number may end in a check character X.
        if i - start == 17 && i < chars.len() && matches!(chars[i], 'X' | 'x') {
            i += 1;
        }
        let run: String = chars[start..i].iter().collect();
        if is_mobile(&run) || is_id_card(&run) {
            out.push_str(&mask_digits(&run));
        } else {
            out.push_str(&run);
        }
    }
    out
}

fn is_mobile(run: &str) -> bool {
    let bytes = run.as_bytes();
    bytes.len() == 11 && bytes[0] == b'1' && (b'3'..=b'9').contains(&bytes[1]) && bytes.iter().all(u8::is_ascii_digit)
}

fn is_id_card(run: &str) -> bool {
    let bytes = run.as_bytes();
    bytes.len() == 18
        && bytes[..17].iter().all(u8::is_ascii_digit)
        && (bytes[17].is_ascii_digit() || bytes[17] == b'X' || bytes[17] == b'x')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, area: Option<&str>) -> Principal {
        let department = (role == Role::Department).then(|| "urban-management".to_string());
        Principal::new("p", role, area.map(|a| AreaCode::new(a).unwrap()), department).unwrap()
    }

    const GRID: &str = "321012001001001";

    #[test]
    fn the_unit_whose_area_holds_the_case_and_the_callers_back_see_it_in_full() {
        for (role, area) in [
            (Role::GridWorker, Some(GRID)),
            (Role::CommunityOffice, Some("321012001001")),
            (Role::StreetOffice, Some("321012001")),
            (Role::DistrictOffice, Some("321012")),
            (Role::Hotline, None),
            (Role::Platform, Some("321012")),
        ] {
            assert_eq!(contact_access(Some(&principal(role, area)), GRID), ContactAccess::Full, "{role}");
        }
    }

    #[test]
    fn other_units_and_roles_see_it_masked_and_supervisors_not_at_all() {
        for (role, area) in [
            (Role::GridWorker, Some("321012001001002")),
            (Role::StreetOffice, Some("321012002")),
            (Role::Hotline, Some("321012002")),
            (Role::Department, Some("321012001")),
            (Role::Mediator, Some("321012001")),
            (Role::Resident, None),
            (Role::Admin, None),
        ] {
            assert_eq!(contact_access(Some(&principal(role, area)), GRID), ContactAccess::Masked, "{role} {area:?}");
        }
        assert_eq!(contact_access(Some(&principal(Role::Supervisor, None)), GRID), ContactAccess::Withheld);
        assert_eq!(
            contact_access(Some(&principal(Role::Supervisor, Some("321012001"))), GRID),
            ContactAccess::Withheld
        );
        assert_eq!(contact_access(None, GRID), ContactAccess::Withheld, "no principal, no contact");
    }

    #[test]
    fn phones_names_and_id_numbers_are_masked_in_the_middle() {
        assert_eq!(mask_digits("13812345678"), "138****5678");
        assert_eq!(mask_digits("32010219900101123X"), "320102********123X");
        assert_eq!(mask_digits("resident-42"), "*********42", "an id that is no number keeps its last 2");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳修"), "欧**");
        assert_eq!(mask_name("王"), "王*", "a one-character name is not shown whole");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn free_text_keeps_everything_but_whole_phone_and_id_card_numbers() {
        let text = "楼道堆放杂物,联系13812345678或身份证32010219900101123x;工单号123456789012345678901,电话12345678901";
        assert_eq!(
            mask_free_text(text),
            "楼道堆放杂物,联系138****5678或身份证320102********123x;工单号123456789012345678901,电话12345678901"
        );
        assert_eq!(mask_free_text("no numbers 张三"), "no numbers 张三");
        assert_eq!(mask_free_text("13800138000"), "138****8000");
        assert!(!mask_free_text("a13800138000b").contains("13800138000"));
    }

    #[test]
    fn an_erased_key_an_anonymous_report_and_each_access_disclose_what_they_should() {
        let contact = Contact { id: "r-1".into(), name: "张三".into(), phone: "13800138000".into() };
        assert_eq!(Disclosure::of(None, ContactAccess::Full), Disclosure::Erased);
        assert_eq!(Disclosure::of(Some(Contact::default()), ContactAccess::Full), Disclosure::Anonymous);
        assert_eq!(Disclosure::of(Some(contact.clone()), ContactAccess::Withheld), Disclosure::Withheld);
        assert_eq!(Disclosure::of(Some(contact.clone()), ContactAccess::Full).contact(), contact);
        let masked = Disclosure::of(Some(contact.clone()), ContactAccess::Masked).contact();
        assert_eq!((masked.name.as_str(), masked.phone.as_str()), ("张*", "138****8000"));
        assert_eq!(contact.identity(), Some("r-1"));
        let phone_only = Contact { phone: "13800138000".into(), ..Contact::default() };
        assert_eq!(phone_only.identity(), Some("13800138000"));
        assert_eq!(Contact::default().identity(), None);
    }
}
