// Package contract holds the wire contracts shared by the engine, the
// activities and the workflows: the inputs and results that cross
// Temporal (workflow and activity inputs, signals, waits, batch results),
// the names registered with Temporal, the workflow ids, the outbox kinds
// and the typed statuses and outcomes stored in PostgreSQL.
//
// It is a leaf package: it imports the standard library only, so engine,
// store, activities and workflows can all depend on it without cycles.
// Everything here is part of the durable contract with workflows in flight
// and rows already written: never rename a name, a JSON tag or a value;
// add new ones beside them.
package contract
