package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/rs/zerolog"

	"github.com/leadflow/leadflow/devserver"
)

// TemporalServerOptions configure RunTemporalServer.
type TemporalServerOptions struct {
	Store            string // sqlite, postgres or memory
	DataDir          string // sqlite: where temporal.db lives
	PostgresURL      string // postgres: the server (its maintenance database)
	PostgresDatabase string // postgres: Temporal's database (and +"_visibility")
	Port             int    // frontend port; 0 picks one
	Namespace        string
	PprofAddr        string // serve net/http/pprof here when set
	LogLevel         string
}

// BindFlags declares the options as flags (for the hidden subcommand).
func (o *TemporalServerOptions) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Store, "store", "sqlite", "sqlite, postgres or memory")
	fs.StringVar(&o.DataDir, "data-dir", "", "sqlite: directory of temporal.db")
	fs.StringVar(&o.PostgresURL, "postgres-url", "", "postgres: PostgreSQL server URL")
	fs.StringVar(&o.PostgresDatabase, "postgres-database", "", "postgres: Temporal's database name")
	fs.IntVar(&o.Port, "port", 0, "frontend port (0: any free port)")
	fs.StringVar(&o.Namespace, "namespace", devserver.DefaultNamespace, "namespace to register")
	fs.StringVar(&o.PprofAddr, "pprof-addr", "", "serve net/http/pprof here")
	fs.StringVar(&o.LogLevel, "log-level", "warn", "server log level")
}

// RunTemporalServer runs the embedded Temporal server until ctx ends. Once
// the frontend answers it prints "READY host:port" on stdout; its logs go to
// stderr. The bench runs it as a child process so that it can kill it and
// start it again on the same SQLite file.
func RunTemporalServer(ctx context.Context, o TemporalServerOptions, stdout, stderr io.Writer) error {
	if o.PprofAddr != "" {
		servePprof(o.PprofAddr, stderr)
	}
	level, err := zerolog.ParseLevel(o.LogLevel)
	if err != nil {
		level = zerolog.WarnLevel
	}
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	s, err := devserver.Start(startCtx, devserver.Options{
		Store:            devserver.Store(o.Store),
		DataDir:          o.DataDir,
		PostgresURL:      o.PostgresURL,
		PostgresDatabase: o.PostgresDatabase,
		Namespace:        o.Namespace,
		FrontendPort:     o.Port,
		Logger:           zerolog.New(stderr).With().Timestamp().Logger(),
		LogLevel:         level.String(),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "READY %s\n", s.FrontendHostPort())
	<-ctx.Done()
	return s.Stop()
}

// servePprof serves the profiling endpoints on addr in the background.
func servePprof(addr string, errw io.Writer) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		if err := http.ListenAndServe(addr, mux); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(errw, "pprof server:", err)
		}
	}()
}

// ServePprof serves net/http/pprof on addr in the background (the profiled
// api and worker variants of the bench).
func ServePprof(addr string, errw io.Writer) { servePprof(addr, errw) }
