package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

type selfTransient bool

func (s selfTransient) Error() string   { return "self-described" }
func (s selfTransient) Transient() bool { return bool(s) }

func TestTransient(t *testing.T) {
	t.Parallel()
	pg := func(code string) error { return &pgconn.PgError{Code: code, Message: "x"} }
	var decodeErr error
	var f float64
	decodeErr = json.Unmarshal([]byte(`1e400`), &f)
	require.Error(t, decodeErr)
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection failure 08006", pg("08006"), true},
		{"serialization failure 40001", pg("40001"), true},
		{"deadlock 40P01", pg("40P01"), true},
		{"too many connections 53300", pg("53300"), true},
		{"admin shutdown 57P01", pg("57P01"), true},
		{"query canceled 57014", pg("57014"), true},
		{"I/O error 58030", pg("58030"), true},
		{"lock not available 55P03", pg("55P03"), true},
		{"numeric overflow 22003", pg("22003"), false},
		{"NUL in text 22021", pg("22021"), false},
		{"unsupported unicode escape 22P05", pg("22P05"), false},
		{"unique violation 23505", pg("23505"), false},
		{"check violation 23514", pg("23514"), false},
		{"program limit 54000", pg("54000"), false},
		{"wrapped unique violation", fmt.Errorf("error writing changes: %w", pg("23505")), false},
		{"wrapped shutdown", fmt.Errorf("error loading: %w", pg("57P01")), true},
		{"context canceled", context.Canceled, true},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{"connection refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"decode error", decodeErr, false},
		{"panic", &PanicError{Value: "boom"}, false},
		{"panic wrapping a deadline stays permanent", fmt.Errorf("%w: %w", &PanicError{Value: 1}, context.DeadlineExceeded), false},
		{"says transient", selfTransient(true), true},
		{"says permanent", selfTransient(false), false},
		{"plain error", errors.New("flow f version 2 has no step \"x\""), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, Transient(c.err), "%v", c.err)
		})
	}
}

func TestProtectRecoversPanics(t *testing.T) {
	t.Parallel()
	err := protect(func() error { panic("boom") })
	var p *PanicError
	require.ErrorAs(t, err, &p)
	require.Equal(t, "panic: boom", err.Error())
	require.NotEmpty(t, p.Stack)
	require.False(t, Transient(err))
	require.NoError(t, protect(func() error { return nil }))
}
