package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// dsnForm is one way of writing a connection string with secrets in it.
type dsnForm struct {
	dsn string
	// secrets must not survive redaction; keep must.
	secrets, keep []string
	// password is what pgx reads as the password ("" when it is not the
	// point of the case).
	password string
}

// dsnForms covers every place pgx takes a secret from, in both syntaxes.
var dsnForms = map[string]dsnForm{
	"url userinfo": {dsn: "postgres://gw:hunter2-userinfo@127.0.0.1:1/groundwork?sslmode=disable",
		secrets: []string{"hunter2-userinfo"}, keep: []string{"127.0.0.1:1/groundwork", "sslmode=disable", "gw:"}, password: "hunter2-userinfo"},
	"url userinfo percent-encoded": {dsn: "postgresql://gw:hunter2%40encoded@127.0.0.1:1/groundwork",
		secrets: []string{"hunter2%40encoded", "hunter2@encoded"}, keep: []string{"postgresql://gw:", "127.0.0.1:1"}, password: "hunter2@encoded"},
	"url query password": {dsn: "postgres://gw@127.0.0.1:1/groundwork?sslmode=disable&password=hunter2-query&application_name=gw",
		secrets: []string{"hunter2-query"}, keep: []string{"application_name=gw", "sslmode=disable"}, password: "hunter2-query"},
	"url query encoded key": {dsn: "postgres://gw@127.0.0.1:1/groundwork?pass%77ord=hunter2-sneaky",
		secrets: []string{"hunter2-sneaky"}, keep: []string{"127.0.0.1:1"}, password: "hunter2-sneaky"},
	"url sslpassword": {dsn: "postgres://gw@127.0.0.1:1/groundwork?sslpassword=hunter2-keypass&sslkey=/etc/groundwork/client.key",
		secrets: []string{"hunter2-keypass"}, keep: []string{"sslkey=/etc/groundwork/client.key"}},
	"url several hosts": {dsn: "postgres://gw:hunter2-multi@127.0.0.1:1,127.0.0.2:1/groundwork",
		secrets: []string{"hunter2-multi"}, keep: []string{"127.0.0.1:1,127.0.0.2:1"}, password: "hunter2-multi"},
	"keyword/value": {dsn: "host=127.0.0.1 port=1 user=gw password=hunter2-plain dbname=groundwork",
		secrets: []string{"hunter2-plain"}, keep: []string{"host=127.0.0.1", "dbname=groundwork"}, password: "hunter2-plain"},
	"keyword/value quoted": {dsn: "host=127.0.0.1 port=1 user=gw password='hunter2 quoted secret' dbname=groundwork",
		secrets: []string{"hunter2", "quoted secret"}, keep: []string{"dbname=groundwork"}, password: "hunter2 quoted secret"},
	"keyword/value quoted with escaped quote": {dsn: `host=127.0.0.1 port=1 password='hunter2 it\'s secret' user=gw`,
		secrets: []string{"hunter2", "s secret"}, keep: []string{"user=gw"}, password: "hunter2 it's secret"},
	"keyword/value spaces around =": {dsn: "host=127.0.0.1 port=1 password = hunter2-spaced user=gw",
		secrets: []string{"hunter2-spaced"}, keep: []string{"user=gw"}, password: "hunter2-spaced"},
	"keyword/value escaped space": {dsn: `host=127.0.0.1 port=1 password=hunter2\ escaped\ space user=gw`,
		secrets: []string{"hunter2", "escaped", "space"}, keep: []string{"user=gw"}, password: "hunter2 escaped space"},
	"keyword/value sslpassword": {dsn: "host=127.0.0.1 port=1 sslkey=/etc/groundwork/client.key sslpassword=hunter2-kvkeypass",
		secrets: []string{"hunter2-kvkeypass"}, keep: []string{"sslkey=/etc/groundwork/client.key"}},
	"keyword/value tabs and newlines": {dsn: "host=127.0.0.1\tport=1\npassword=hunter2-tabbed\n",
		secrets: []string{"hunter2-tabbed"}, keep: []string{"host=127.0.0.1"}, password: "hunter2-tabbed"},
}

// Strings pgx cannot split for certain are hidden whole.
var malformedDSNs = map[string]string{
	"unterminated quote":         "host=127.0.0.1 port=1 password='hunter2-unterminated",
	"url with stray @":           "postgres://gw:hunter2@stray@127.0.0.1:1/groundwork",
	"url with unencoded /":       "postgres://gw:hunter2/slash@127.0.0.1:1/groundwork",
	"keyword/value missing =":    "host=127.0.0.1 port=1 password hunter2-noequals",
	"url with a leading space":   " postgres://gw:hunter2-leading@127.0.0.1:1/groundwork",
	"url with upper-case scheme": "POSTGRES://gw:hunter2-upper@127.0.0.1:1/groundwork",
}

func TestRedactDSN(t *testing.T) {
	for name, tc := range dsnForms {
		t.Run(name, func(t *testing.T) {
			got := redactDSN(tc.dsn)
			for _, s := range tc.secrets {
				if strings.Contains(got, s) {
					t.Errorf("redactDSN(%q) = %q: %q survived", tc.dsn, got, s)
				}
			}
			for _, k := range append(tc.keep, redacted) {
				if !strings.Contains(got, k) {
					t.Errorf("redactDSN(%q) = %q: lost %q", tc.dsn, got, k)
				}
			}
			if tc.password == "" {
				return
			}
			// The case is what it claims: pgx reads that password from it,
			// and reads the mask, nothing else, from the redacted string.
			orig, err := pgconn.ParseConfig(tc.dsn)
			if err != nil || orig.Password != tc.password {
				t.Fatalf("pgx reads password %q (%v) from the case, want %q", orig.Password, err, tc.password)
			}
			if red, err := pgconn.ParseConfig(got); err != nil || red.Password != redacted {
				t.Errorf("pgx reads password %q (%v) from the redacted %q, want the mask", red.Password, err, got)
			}
		})
	}
	for name, dsn := range malformedDSNs {
		t.Run(name, func(t *testing.T) {
			if got := redactDSN(dsn); got != redacted {
				t.Errorf("redactDSN(%q) = %q, want it hidden whole", dsn, got)
			}
		})
	}
}

// An error that quotes a connection string loses its secrets, whatever
// the form, and still unwraps.
func TestScrubDSN(t *testing.T) {
	check := func(t *testing.T, dsn, quoted string) {
		t.Helper()
		base := errors.New("boom")
		err := scrubDSN(fmt.Errorf("connecting with %s: %w", quoted, base), dsn)
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("scrubbed error leaks: %v", err)
		}
		if !errors.Is(err, base) {
			t.Errorf("scrubbed error does not unwrap: %v", err)
		}
	}
	for name, tc := range dsnForms {
		t.Run(name, func(t *testing.T) {
			check(t, tc.dsn, "`"+tc.dsn+"`")
			// A driver may quote a single value rather than the string.
			for _, p := range dsnParts(t, tc.dsn) {
				check(t, tc.dsn, "password "+p.text)
				check(t, tc.dsn, "password "+p.value)
			}
		})
	}
	for name, dsn := range malformedDSNs {
		t.Run(name, func(t *testing.T) { check(t, dsn, "`"+dsn+"`") })
	}
}

func dsnParts(t *testing.T, dsn string) []dsnPart {
	parts, ok := splitDSN(dsn)
	if !ok {
		t.Fatalf("splitDSN(%q) failed", dsn)
	}
	var out []dsnPart
	for _, p := range parts {
		if p.secret {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatalf("splitDSN(%q) found no secret", dsn)
	}
	return out
}

// The effective configuration printed at start-up hides the database
// password in every form, and keeps the rest readable.
func TestConfigPrintedRedactsEveryDSNForm(t *testing.T) {
	for name, tc := range dsnForms {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.DatabaseURL = tc.dsn
			out := cfg.String()
			for _, s := range tc.secrets {
				if strings.Contains(out, s) {
					t.Errorf("printed config leaks %q:\n%s", s, out)
				}
			}
			if !strings.Contains(out, "host") && !strings.Contains(out, "127.0.0.1") {
				t.Errorf("printed config lost the host:\n%s", out)
			}
		})
	}
	for name, dsn := range malformedDSNs {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.DatabaseURL = dsn
			if out := cfg.String(); strings.Contains(out, "hunter2") {
				t.Errorf("printed config leaks the password:\n%s", out)
			}
		})
	}
}

// groundwork serve, migrate and demo, given a database that does not answer,
// print neither in the start-up log nor in the error any part of the
// password, whatever the form of DATABASE_URL; a string pgx cannot parse
// is a start-up error naming database_url, not quoting it.
func TestStartupOutputRedactsDSN(t *testing.T) {
	path := filepath.Join(t.TempDir(), "groundwork.yaml")
	if err := os.WriteFile(path, []byte("listen: 127.0.0.1:0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]string{}
	for name, tc := range dsnForms {
		cases[name] = append([]string{tc.dsn}, tc.secrets...)
	}
	for _, name := range []string{"unterminated quote", "keyword/value missing ="} {
		cases[name] = []string{malformedDSNs[name], "hunter2"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for name, c := range cases {
		dsn, secrets := c[0], c[1:]
		t.Run(name, func(t *testing.T) {
			for _, cmd := range []string{"serve", "migrate", "demo"} {
				var stdout, stderr bytes.Buffer
				code := run(ctx, []string{cmd, "-config", path, "-log-level", "info"}, getenv(map[string]string{"DATABASE_URL": dsn}), &stdout, &stderr)
				out := stdout.String() + stderr.String()
				if code == 0 {
					t.Fatalf("%s against a closed port exited 0:\n%s", cmd, out)
				}
				for _, s := range secrets {
					if strings.Contains(out, s) {
						t.Errorf("%s output leaks %q:\n%s", cmd, s, out)
					}
				}
				if cmd == "demo" {
					continue // it prints no configuration
				}
				logged := strings.Contains(out, "configuration loaded") && strings.Contains(out, redacted)
				refused := strings.Contains(out, "database_url: not a valid Postgres connection string")
				if !logged && !refused {
					t.Errorf("%s neither logged the redacted configuration nor named database_url:\n%s", cmd, out)
				}
			}
		})
	}
}
