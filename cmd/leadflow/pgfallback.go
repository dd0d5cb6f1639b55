package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/rs/zerolog"
)

// privatePostgresPort is where `leadflow dev` runs its own PostgreSQL
// cluster when no server answers and none was configured.
const privatePostgresPort = 54329

// postgresBinDir finds the PostgreSQL server binaries (initdb, pg_ctl).
func postgresBinDir() (string, bool) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, true
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, true
		}
	}
	return "", false
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// startPrivatePostgres runs a PostgreSQL cluster of the machine's server
// binaries under dir (created with initdb on first use) on 127.0.0.1 and
// returns its URL and a function that stops it. As root, the cluster runs
// as the postgres user, since PostgreSQL refuses to run as root.
func startPrivatePostgres(ctx context.Context, dir string, log zerolog.Logger) (string, func(), error) {
	bin, ok := postgresBinDir()
	if !ok {
		return "", nil, errors.New("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", nil, err
	}
	run := func(name string, args ...string) error {
		cmdArgs := append([]string{filepath.Join(bin, name)}, args...)
		if os.Geteuid() == 0 {
			u, err := user.Lookup("postgres")
			if err != nil {
				return errors.New("running as root and there is no postgres user to run PostgreSQL as")
			}
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			_ = filepath.Walk(abs, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, uid, gid) })
			cmdArgs = append([]string{"runuser", "-u", "postgres", "--"}, cmdArgs...)
		}
		out, err := exec.CommandContext(ctx, cmdArgs[0], cmdArgs[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w: %s", name, err, out)
		}
		return nil
	}
	if _, err := os.Stat(filepath.Join(abs, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		log.Info().Str("dir", abs).Msg("creating a private PostgreSQL cluster")
		if err := run("initdb", "-D", abs, "-U", "postgres", "--auth=trust", "--encoding=UTF8"); err != nil {
			return "", nil, err
		}
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", privatePostgresPort, abs)
	if err := run("pg_ctl", "-D", abs, "-l", filepath.Join(abs, "server.log"), "-o", opts, "-w", "start"); err != nil {
		return "", nil, err
	}
	stop := func() {
		if err := run("pg_ctl", "-D", abs, "-m", "fast", "-w", "stop"); err != nil {
			log.Warn().Err(err).Msg("stopping the private PostgreSQL cluster")
		}
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/leadflow?sslmode=disable", privatePostgresPort), stop, nil
}
