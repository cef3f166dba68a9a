package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// errNoPostgres: neither a server nor the server binaries were found.
var errNoPostgres = errors.New(`no PostgreSQL found: install the server, for example
  Debian/Ubuntu:  sudo apt-get install postgresql
  Fedora:         sudo dnf install postgresql-server
  macOS:          brew install postgresql@16
or set DATABASE_URL to a Postgres you can use`)

// pgBinDir finds a directory holding initdb and pg_ctl: on PATH, else the
// newest /usr/lib/postgresql/*/bin.
func pgBinDir() (string, bool) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), true
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if fileExists(filepath.Join(d, "initdb")) && fileExists(filepath.Join(d, "pg_ctl")) {
			return d, true
		}
	}
	return "", false
}

func pgVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// tempCluster is a private, throwaway Postgres cluster listening only on a
// Unix socket in its own temporary directory.
type tempCluster struct {
	dir  string
	bin  string
	cred *syscall.Credential
	URL  string
}

// startTempCluster initdb's a cluster in a new temporary directory and
// starts it. Postgres refuses to run as root, so as root it runs as the
// "postgres" (else "nobody") user.
func startTempCluster(ctx context.Context, binDir string) (*tempCluster, error) {
	dir, err := os.MkdirTemp("", "groundwork-pg-")
	if err != nil {
		return nil, err
	}
	c := &tempCluster{dir: dir, bin: binDir}
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		c.cred = cred
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run(ctx, "initdb", "-D", data, "-U", "groundwork", "--auth=trust", "--encoding=UTF8", "--no-sync"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	opts := fmt.Sprintf("-c listen_addresses='' -k %s -c fsync=off -c max_connections=100", dir)
	if out, err := c.run(ctx, "pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "postgres.log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_ctl start: %v: %s %s", err, out, log)
	}
	c.URL = fmt.Sprintf("postgres://groundwork@/postgres?host=%s&sslmode=disable", dir)
	return c, nil
}

func (c *tempCluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// Stop stops the server and removes the cluster's directory.
func (c *tempCluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.run(ctx, "pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "fast", "-w", "stop")
	if rerr := os.RemoveAll(c.dir); err == nil {
		err = rerr
	}
	return err
}

func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and there is no postgres or nobody user to run a throwaway Postgres as")
}

// localPostgresURLs are tried, in order, for a Postgres on localhost:5432.
func localPostgresURLs() []string {
	users := []string{"postgres"}
	if u, err := user.Current(); err == nil && u.Username != "postgres" {
		users = append(users, u.Username)
	}
	var out []string
	for _, u := range users {
		out = append(out, fmt.Sprintf("postgres://%s@localhost:5432/postgres?sslmode=disable&connect_timeout=2", u))
	}
	return out
}

// canConnect reports whether url answers and lets us create a schema.
func canConnect(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return false
	}
	defer conn.Close(context.Background())
	var ok bool
	err = conn.QueryRow(ctx, `SELECT has_database_privilege(current_database(), 'CREATE')`).Scan(&ok)
	return err == nil && ok
}
