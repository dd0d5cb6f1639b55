package store

// LeadsPageSQLForTest exposes the hot list's query to the plan test.
func LeadsPageSQLForTest(after bool) string { return leadsPageSQL(after) }
