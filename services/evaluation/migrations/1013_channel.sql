-- The channel a case was reported through (hotline, grid worker's patrol, resident app, …), for
-- the intake per channel. Rows projected before it keep '' until the projection is rebuilt
-- (`gridloop replay`), which folds it from each case's opening.
ALTER TABLE evaluation_cases ADD COLUMN channel TEXT NOT NULL DEFAULT '';
