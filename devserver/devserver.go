// Package devserver runs an in-process Temporal server for `leadflow dev` and
// for tests, and nothing else: persistence in SQLite (a file under DataDir, or
// in memory) or in PostgreSQL (Temporal's own schema in databases of their
// own), a registered namespace, a laptop-sized dynamic config, and every
// listener on 127.0.0.1.
//
// It is the same embedding that `temporal server start-dev` (temporalio/cli)
// and go.temporal.io/server/temporaltest do, with a PostgreSQL store added:
// SQLite serialises all of Temporal's persistence through one connection.
//
// Temporal's SQLite plugin keeps one connection per database open for the
// life of the process, even after Stop: an in-memory store's data stays in
// memory until the process exits, and a SQLite file stays open.
package devserver

import (
	"context"
	gosql "database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/metrics"
	persistencecommon "go.temporal.io/server/common/persistence"
	"go.temporal.io/server/common/persistence/serialization"
	"go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/resolver"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/leadflow/leadflow/temporallog"
)

// Store selects where the server keeps its state.
type Store string

const (
	// StoreSQLite keeps state in DataDir/SQLiteFile; it survives restarts.
	StoreSQLite Store = "sqlite"
	// StorePostgres keeps state in PostgreSQL, in databases PostgresDatabase
	// and PostgresDatabase+"_visibility", created and migrated on start.
	StorePostgres Store = "postgres"
	// StoreMemory is a throwaway in-memory SQLite database.
	StoreMemory Store = "memory"
)

// DefaultStore is the store `leadflow dev` should use when PostgreSQL is at
// hand. Measured with storebench_test.go on 2 cores: SQLite (WAL) is ahead
// on an idle machine, but once the cores are busy PostgreSQL completes about
// twice as many workflows and SQLite's single connection stalls for seconds.
const DefaultStore = StorePostgres

// Defaults applied by Start.
const (
	DefaultNamespace        = "default"
	DefaultFrontendPort     = 7233
	DefaultPostgresDatabase = "temporal"
	DefaultRetention        = 7 * 24 * time.Hour
	SQLiteFileName          = "temporal.db"
)

// Default history shard counts, measured (storebench_test.go): PostgreSQL
// runs shards' transactions side by side; SQLite's single connection only
// makes them queue.
const (
	DefaultHistoryShardsPostgres = 4
	DefaultHistoryShardsSQLite   = 1
)

// Options configures Start. The zero value runs an in-memory server on a
// free port of 127.0.0.1 with namespace "default".
type Options struct {
	// Store is where state lives. Empty means: postgres when PostgresURL is
	// set, else sqlite when DataDir is set, else memory.
	Store Store
	// DataDir holds the SQLite file (DataDir/SQLiteFile); required for
	// sqlite, created if missing.
	DataDir string
	// SQLiteFile names the SQLite file in DataDir (default "temporal.db").
	// Give each leadflow database a file of its own (leadflow dev uses
	// <database>.temporal.db): a server keeps the state of every workflow
	// it ran in it.
	SQLiteFile string
	// PostgresURL points at a PostgreSQL server for the postgres store, e.g.
	// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable. Its path
	// names the database to connect to for creating Temporal's databases.
	PostgresURL string
	// PostgresDatabase names Temporal's main database (default "temporal");
	// visibility goes to PostgresDatabase+"_visibility". Give each leadflow
	// database Temporal databases of their own (leadflow dev uses
	// <database>_temporal): a server keeps the state of every workflow it
	// ran in them.
	PostgresDatabase string
	// Namespace is registered on start (default "default").
	Namespace string
	// Retention of closed workflows in Namespace when it is first created
	// (default 7 days).
	Retention time.Duration
	// FrontendPort is the gRPC port on 127.0.0.1; 0 picks a free one (pass
	// DefaultFrontendPort, 7233, for the usual address). FrontendHostPort
	// tells the address in use.
	FrontendPort int
	// UIPort serves the Temporal Web UI on 127.0.0.1 when this build
	// includes it (see UIAvailable; otherwise it is ignored with a warning);
	// 0 disables it, -1 picks a free port.
	UIPort int
	// MetricsPort serves the server's Prometheus metrics at
	// http://127.0.0.1:MetricsPort/metrics; 0 disables them.
	MetricsPort int
	// HistoryShards is the number of history shards (default 4 on
	// postgres, 1 on sqlite and memory). A store keeps the count it was
	// first started with; Server.HistoryShards tells the one in use.
	HistoryShards int32
	// DynamicConfig overrides or adds dynamic config values by key, e.g.
	// "frontend.rps": 5000. Values must be int, float64, bool, string,
	// time.Duration or a map/slice as Temporal expects.
	DynamicConfig map[string]any
	// Logger receives the server's logs.
	Logger zerolog.Logger
	// LogLevel is the minimum level of server logs: "debug", "info", "warn",
	// "error" or "disabled" (default "warn": the server is chatty).
	LogLevel string
}

// Server is a running embedded Temporal server.
type Server struct {
	srv       temporal.Server
	logger    serverLogger
	store     Store
	shards    int32
	frontend  string
	namespace string
	uiAddr    string
	state     string
	stopUI    func()
	stopOnce  sync.Once
	stopErr   error
}

// FrontendHostPort is the frontend's gRPC address, e.g. "127.0.0.1:7233".
func (s *Server) FrontendHostPort() string { return s.frontend }

// Namespace is the namespace registered on start.
func (s *Server) Namespace() string { return s.namespace }

// UIAddress is the Web UI's host:port (http), or "" when none is served.
func (s *Server) UIAddress() string { return s.uiAddr }

// Store is the store in use.
func (s *Server) Store() Store { return s.store }

// StateLocation says where the server keeps its state, for people: the
// PostgreSQL databases and their server, the SQLite file, or memory.
func (s *Server) StateLocation() string { return s.state }

// HistoryShards is the number of history shards in use.
func (s *Server) HistoryShards() int32 { return s.shards }

// Stop shuts the server down. It is safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.stopUI != nil {
			s.stopUI()
		}
		// Stopping services warn about the connections they lose to each
		// other; that is noise, errors still show.
		s.logger.raiseLevel(zerolog.ErrorLevel)
		s.stopErr = s.srv.Stop()
	})
	return s.stopErr
}

// Start starts a server and returns once its frontend answers and the
// namespace is usable. ctx bounds the setup and the wait, not the server's
// life: call Stop to end it.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if err := opts.applyDefaults(); err != nil {
		return nil, err
	}
	level, err := parseLevel(opts.LogLevel)
	if err != nil {
		return nil, err
	}
	logger := newServerLogger(opts.Logger, level)

	// Ports: frontend, then history, matching, worker.
	if opts.FrontendPort > 0 {
		if err := checkPortFree(opts.FrontendPort); err != nil {
			return nil, fmt.Errorf("devserver: frontend port %d: %w", opts.FrontendPort, err)
		}
	}
	if opts.MetricsPort > 0 {
		if err := checkPortFree(opts.MetricsPort); err != nil {
			return nil, fmt.Errorf("devserver: metrics port %d: %w", opts.MetricsPort, err)
		}
	}
	// frontend gRPC, history, matching, worker, frontend HTTP (Nexus, HTTP API)
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	if opts.FrontendPort > 0 {
		ports[0] = opts.FrontendPort
	}

	persistence, nsSQL, err := opts.persistence(ctx, logger)
	if err != nil {
		return nil, err
	}
	if err := registerNamespace(nsSQL, opts.Namespace, opts.Retention); err != nil {
		return nil, err
	}
	// A store that exists keeps its shard count: ask for that one rather
	// than have the server warn that it ignores ours.
	if n, err := persistedShards(ctx, nsSQL); err != nil {
		return nil, err
	} else if n > 0 {
		persistence.NumHistoryShards = n
	}

	cfg := serverConfig(ports, opts.MetricsPort, persistence)
	srv, err := temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(staticHosts(ports)),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dynamicConfig(opts.DynamicConfig)),
	)
	if err != nil {
		return nil, fmt.Errorf("devserver: build server: %w", err)
	}
	if err := srv.Start(); err != nil {
		_ = srv.Stop()
		return nil, fmt.Errorf("devserver: start server: %w", err)
	}
	s := &Server{
		srv:       srv,
		logger:    logger,
		store:     opts.Store,
		shards:    persistence.NumHistoryShards,
		frontend:  hostPort(ports[0]),
		namespace: opts.Namespace,
		state:     opts.stateLocation(),
	}
	if err := waitReady(ctx, s.frontend, s.namespace, opts.Logger); err != nil {
		_ = s.Stop()
		return nil, err
	}
	switch {
	case opts.UIPort == 0:
	case !UIAvailable:
		logger.Warn("this build has no Temporal Web UI; UIPort ignored (run temporalio/ui against the frontend instead)")
	default:
		addr, stop, err := startUI(opts.UIPort, s.frontend, opts.Logger)
		if err != nil {
			_ = s.Stop()
			return nil, err
		}
		s.uiAddr, s.stopUI = addr, stop
	}
	return s, nil
}

func (o *Options) applyDefaults() error {
	if o.Store == "" {
		switch {
		case o.PostgresURL != "":
			o.Store = StorePostgres
		case o.DataDir != "":
			o.Store = StoreSQLite
		default:
			o.Store = StoreMemory
		}
	}
	switch o.Store {
	case StoreSQLite:
		if o.DataDir == "" {
			return errors.New("devserver: DataDir is required for the sqlite store")
		}
	case StorePostgres:
		if o.PostgresURL == "" {
			return errNoPostgresURL
		}
	case StoreMemory:
	default:
		return fmt.Errorf("devserver: unknown store %q (want sqlite, postgres or memory)", o.Store)
	}
	if o.PostgresDatabase == "" {
		o.PostgresDatabase = DefaultPostgresDatabase
	}
	if o.Store == StorePostgres && len(o.PostgresDatabase+visibilitySuffix) > maxPostgresName {
		return fmt.Errorf("devserver: PostgresDatabase %q is too long: PostgreSQL names are at most %d bytes, and %q needs %d",
			o.PostgresDatabase, maxPostgresName, o.PostgresDatabase+visibilitySuffix, len(o.PostgresDatabase+visibilitySuffix))
	}
	if o.SQLiteFile == "" {
		o.SQLiteFile = SQLiteFileName
	}
	if o.SQLiteFile != filepath.Base(o.SQLiteFile) {
		return fmt.Errorf("devserver: SQLiteFile %q must be a file name, without a directory (the directory is DataDir)", o.SQLiteFile)
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.FrontendPort < 0 || o.FrontendPort > 65535 {
		return fmt.Errorf("devserver: FrontendPort %d out of range", o.FrontendPort)
	}
	if o.HistoryShards <= 0 {
		o.HistoryShards = DefaultHistoryShardsSQLite
		if o.Store == StorePostgres {
			o.HistoryShards = DefaultHistoryShardsPostgres
		}
	}
	return nil
}

func parseLevel(s string) (zerolog.Level, error) {
	if s == "" {
		return zerolog.WarnLevel, nil
	}
	l, err := zerolog.ParseLevel(strings.ToLower(s))
	if err != nil {
		return 0, fmt.Errorf("devserver: LogLevel %q: %w", s, err)
	}
	return l, nil
}

// persistence builds Temporal's persistence config for the store, preparing
// the store first (SQLite file, PostgreSQL databases and schema). It also
// returns the SQL config of the main store, for namespace registration.
func (o *Options) persistence(ctx context.Context, logger log.Logger) (config.Persistence, *config.SQL, error) {
	p := config.Persistence{
		DefaultStore:     "default",
		VisibilityStore:  "visibility",
		NumHistoryShards: o.HistoryShards,
	}
	switch o.Store {
	case StoreMemory:
		sq := &config.SQL{
			PluginName: sqliteplugin.PluginName,
			// A name of its own per server: the SQLite plugin keeps a process-wide
			// connection per DSN.
			DatabaseName:      "leadflow-devserver-" + strconv.FormatUint(rand.Uint64(), 36),
			ConnectAttributes: map[string]string{"mode": "memory", "cache": "shared"},
		}
		p.VisibilityStore = "default"
		p.DataStores = map[string]config.DataStore{"default": {SQL: sq}}
		return p, sq, nil

	case StoreSQLite:
		if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
			return p, nil, fmt.Errorf("devserver: create DataDir: %w", err)
		}
		file, err := filepath.Abs(filepath.Join(o.DataDir, o.SQLiteFile))
		if err != nil {
			return p, nil, err
		}
		sq := &config.SQL{
			PluginName:        sqliteplugin.PluginName,
			DatabaseName:      file,
			ConnectAttributes: map[string]string{"mode": "rwc"},
			MaxConns:          sqliteMaxConns,
			MaxIdleConns:      sqliteMaxConns,
		}
		for k, v := range sqlitePragmas {
			sq.ConnectAttributes[k] = v
		}
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			if err := sqliteschema.SetupSchema(sq); err != nil {
				_ = os.Remove(file)
				return p, nil, fmt.Errorf("devserver: set up SQLite schema in %s: %w", file, err)
			}
		} else if err != nil {
			return p, nil, fmt.Errorf("devserver: %w", err)
		}
		p.VisibilityStore = "default"
		p.DataStores = map[string]config.DataStore{"default": {SQL: sq}}
		return p, sq, nil

	default: // postgres
		t, err := parsePostgresURL(o.PostgresURL)
		if err != nil {
			return p, nil, err
		}
		mainDB, visDB := o.PostgresDatabase, o.PostgresDatabase+visibilitySuffix
		if err := setupPostgres(ctx, t, mainDB, visDB, logger); err != nil {
			return p, nil, err
		}
		// Every Temporal service opens its own pools: 4 services × (main + visibility).
		main := t.sqlConfig(mainDB, pgMainConns)
		p.DataStores = map[string]config.DataStore{
			"default":    {SQL: main},
			"visibility": {SQL: t.sqlConfig(visDB, pgVisibilityConns)},
		}
		return p, main, nil
	}
}

// visibilitySuffix names the visibility database after the main one.
const visibilitySuffix = "_visibility"

// maxPostgresName is PostgreSQL's limit on a name, in bytes (longer names
// are cut, so two long names could end up the same database).
const maxPostgresName = 63

// stateLocation says where the store keeps the server's state.
func (o *Options) stateLocation() string {
	switch o.Store {
	case StoreSQLite:
		file, err := filepath.Abs(filepath.Join(o.DataDir, o.SQLiteFile))
		if err != nil {
			file = filepath.Join(o.DataDir, o.SQLiteFile)
		}
		return "SQLite file " + file
	case StorePostgres:
		where := ""
		if t, err := parsePostgresURL(o.PostgresURL); err == nil {
			where = " on " + t.addr
		}
		return fmt.Sprintf("PostgreSQL databases %s and %s%s%s", o.PostgresDatabase, o.PostgresDatabase, visibilitySuffix, where)
	default:
		return "memory (lost when the process exits)"
	}
}

// SQLite file store tuning (variables so that storebench can compare).
var (
	// sqliteMaxConns: the plugin's single connection unless measured
	// otherwise (WAL would allow concurrent readers).
	sqliteMaxConns = 1
	// sqlitePragmas: write-ahead log with synchronous=NORMAL, durable
	// against a crash of the process (a power cut may lose the last
	// transactions), much faster than the default rollback journal.
	sqlitePragmas = map[string]string{
		"journal_mode": "wal",
		"synchronous":  "1",
		"busy_timeout": "10000",
	}
)

// Connection pool sizes per Temporal service for the postgres store: at most
// 4 × (12 + 4) = 64 connections, within PostgreSQL's default 100.
const (
	pgMainConns       = 12
	pgVisibilityConns = 4
)

// registerNamespace writes the namespace straight into the store before the
// server starts (as temporaltest and the CLI do), so it is usable at once;
// an existing namespace is left as it is.
func registerNamespace(sq *config.SQL, name string, retention time.Duration) error {
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, name, false, nil)
	if err != nil {
		return fmt.Errorf("devserver: namespace %q: %w", name, err)
	}
	ns.Detail.Config.Retention = durationpb.New(retention)
	// CreateNamespaces works through Temporal's generic SQL persistence layer,
	// so it serves the PostgreSQL store as well as SQLite.
	if err := sqliteschema.CreateNamespaces(sq, ns); err != nil {
		return fmt.Errorf("devserver: register namespace %q: %w", name, err)
	}
	return nil
}

const clusterName = "active"

// persistedShards is the history shard count recorded in an existing
// store's cluster metadata, or 0 for a store never started.
func persistedShards(ctx context.Context, sq *config.SQL) (int32, error) {
	db, err := sql.NewSQLDB(sqlplugin.DbKindUnknown, sq, resolver.NewNoopResolver(), log.NewNoopLogger(), metrics.NoopMetricsHandler)
	if err != nil {
		return 0, fmt.Errorf("devserver: open store: %w", err)
	}
	defer func() { _ = db.Close() }()
	row, err := db.GetClusterMetadata(ctx, &sqlplugin.ClusterMetadataFilter{ClusterName: clusterName})
	if errors.Is(err, gosql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("devserver: read cluster metadata: %w", err)
	}
	md, err := serialization.NewSerializer().DeserializeClusterMetadata(persistencecommon.NewDataBlob(row.Data, row.DataEncoding))
	if err != nil {
		return 0, fmt.Errorf("devserver: decode cluster metadata: %w", err)
	}
	return md.GetHistoryShardCount(), nil
}

func serverConfig(ports []int, metricsPort int, p config.Persistence) *config.Config {
	var c config.Config
	c.Global.Membership.MaxJoinDuration = 30 * time.Second
	c.Global.Membership.BroadcastAddress = loopback
	if metricsPort > 0 {
		c.Global.Metrics = &metrics.Config{
			Prometheus: &metrics.PrometheusConfig{
				// OpenTelemetry keeps its own registry: nothing is added to the
				// process's default Prometheus registry.
				Framework:     metrics.FrameworkOpentelemetry,
				ListenAddress: hostPort(metricsPort),
				HandlerPath:   "/metrics",
			},
		}
	}
	c.Persistence = p
	c.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             hostPort(ports[0]),
				HTTPAddress:            hostPort(ports[len(serviceNames)]),
			},
		},
	}
	c.DCRedirectionPolicy.Policy = "noop"
	c.Services = map[string]config.Service{}
	for i, name := range serviceNames {
		c.Services[string(name)] = config.Service{RPC: config.RPC{GRPCPort: ports[i], BindOnIP: loopback}}
	}
	fe := c.Services[string(primitives.FrontendService)]
	fe.RPC.HTTPPort = ports[len(serviceNames)]
	c.Services[string(primitives.FrontendService)] = fe
	c.Archival.History.State = "disabled"
	c.Archival.Visibility.State = "disabled"
	c.NamespaceDefaults.Archival.History.State = "disabled"
	c.NamespaceDefaults.Archival.Visibility.State = "disabled"
	c.PublicClient.HostPort = hostPort(ports[0])
	return &c
}

var serviceNames = []primitives.ServiceName{
	primitives.FrontendService,
	primitives.HistoryService,
	primitives.MatchingService,
	primitives.WorkerService,
}

// staticHosts pins every service to its one local address: no ringpop
// gossip, so start-up does not wait on membership.
func staticHosts(ports []int) map[primitives.ServiceName]static.Hosts {
	m := make(map[primitives.ServiceName]static.Hosts, len(serviceNames))
	for i, name := range serviceNames {
		m[name] = static.SingleLocalHost(hostPort(ports[i]))
	}
	return m
}

// dynamicConfig is tuned for one developer's machine, as the CLI's start-dev
// does: no eventual consistency to wait out, limits high enough that a load
// test measures the store rather than rate limiters, and one partition per
// task queue (more only spread one worker's polls thin).
func dynamicConfig(overrides map[string]any) dynamicconfig.StaticClient {
	dc := dynamicconfig.StaticClient{
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key():     true,
		dynamicconfig.MakeKey("system.forceNexusEndpointRefreshOnRead"): true,

		dynamicconfig.FrontendRPS.Key():                                  20000,
		dynamicconfig.FrontendMaxNamespaceRPSPerInstance.Key():           20000,
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 1000,
		dynamicconfig.FrontendPersistenceMaxQPS.Key():                    20000,
		dynamicconfig.HistoryPersistenceMaxQPS.Key():                     45000,
		dynamicconfig.MatchingPersistenceMaxQPS.Key():                    20000,
		dynamicconfig.HistoryRPS.Key():                                   20000,
		dynamicconfig.MatchingRPS.Key():                                  20000,

		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,

		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8192,
	}
	for k, v := range overrides {
		dc[dynamicconfig.MakeKey(k)] = v
	}
	return dc
}

// waitReady polls the frontend until the namespace can be described.
func waitReady(ctx context.Context, hostPort, namespace string, zl zerolog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  hostPort,
		Namespace: namespace,
		Logger:    temporallog.New(zl.Level(zerolog.ErrorLevel)),
	})
	if err != nil {
		return fmt.Errorf("devserver: server did not come up at %s: %w", hostPort, err)
	}
	defer c.Close()
	for {
		_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devserver: namespace %q not ready: %w", namespace, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
