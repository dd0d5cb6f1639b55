// Package contact is the pure contact core: it decides everything that
// happens to one contact. Given the contact's State, the published Catalog,
// one Input (an event of the log, the contact's time-driven changes falling
// due, a flow run resuming) and the time, Apply brings the state to what it
// is after the input and returns the Effects it caused: ledger entries,
// expired grants, CRM tasks, webhooks, runs started, waiting, signalled and
// finished, segment changes, the derived events raised, account traits to
// merge and the contact's next due time.
//
// It owns the rules of the language's evaluation as applied to a contact:
// engagement and profile scoring, caps, frequency, decay and expiry, bands,
// thresholds with re-arm, segment membership, flow entry and the execution
// of flow steps, idempotency keys and derived event ids.
//
// It must not do I/O of any kind: no pgx, no SQL, no clock (the time is an
// argument), no logging or metrics (what a shell should log or count is in
// the Effects), no Temporal; and no dependence on map iteration order
// (maps are walked in sorted key order). The engine loads a State and a
// Catalog, calls Apply and writes what changed; golden tests run it with no
// database at all.
package contact
