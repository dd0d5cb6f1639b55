// Package preview answers "what would this change have done?": it replays
// the stored events of a window through draft definitions in the pure
// contact core (contact.History), beside the published definitions over
// the same events, and reports score distributions, bands, band changes,
// threshold crossings, CRM tasks, flow entries and exits and the rules that
// gave the most points. Nothing is written and nothing is sent: the core
// decides, and preview only counts what it decided.
package preview
