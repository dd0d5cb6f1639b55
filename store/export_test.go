package store

// LeadsPageSQLForTest exposes the hot list's query to the plan test.
func LeadsPageSQLForTest(q LeadsPageQuery) (string, []any) { return leadsPageSQL(q) }
