// Package workflows holds leadflow's Temporal workflow code. It is
// deterministic only: no I/O, no time.Now, no goroutines, no map iteration,
// no randomness. Every read and write of contact state happens in activities
// (package activities), which the workflows call by registered name; the
// evaluation logic lives there too, so it can change without breaking the
// replay of workflows in flight. Their inputs, names and ids are declared
// in package contract.
package workflows

import (
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/leadflow/leadflow/contract"
)

// ForeignDeployment reports whether err is an activity's refusal of work
// that belongs to another deployment (contract.ErrForeignDeployment): a
// workflow that gets one ends with it rather than waiting and trying again.
func ForeignDeployment(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == contract.ErrForeignDeployment
}
