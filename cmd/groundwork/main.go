// Command groundwork prepares incident learning reviews: it collects an
// incident's pages, alerts, deploys, commits and chat into one timeline in
// Postgres and serves it as JSON.
//
//	groundwork serve     API, webhooks and workers in one process
//	groundwork migrate   bring the schema up to date
//	groundwork collect   collect one incident now, in the foreground
//	groundwork demo      the whole pipeline against built-in fakes
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// errUsage marks an error in the command line; the exit status is 2.
var errUsage = errors.New("usage")

const usage = `groundwork prepares incident learning reviews.

Usage: groundwork <command> [flags]

Commands:
  serve     run the API, the webhooks and the collection workers
  migrate   bring the database schema up to date
  collect   collect one incident now: collect [flags] INCIDENT_ID
  demo      run the whole pipeline against built-in fakes, no accounts needed
  help      show this help

Every command takes -config PATH (default: $GROUNDWORK_CONFIG, else ./groundwork.yaml)
and -log-level (debug, info, warn, error). Run "groundwork <command> -h" for its flags.
`

// env is what every command gets: its flags' common part, the environment
// and where to write.
type env struct {
	getenv     func(string) string
	stdout     io.Writer
	stderr     io.Writer
	configPath string
	logLevel   string
	logger     *zap.Logger
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	e := &env{getenv: getenv, stdout: stdout, stderr: stderr}
	var err error
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "serve":
		err = e.serveCmd(ctx, rest)
	case "migrate":
		err = e.migrateCmd(ctx, rest)
	case "collect":
		err = e.collectCmd(ctx, rest)
	case "demo":
		err = e.demoCmd(ctx, rest)
	default:
		fmt.Fprintf(stderr, "groundwork: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if e.logger != nil {
		_ = e.logger.Sync()
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "groundwork %s: %v\n", cmd, err)
		return 2
	default:
		fmt.Fprintf(stderr, "groundwork %s: %v\n", cmd, err)
		return 1
	}
}

// flags returns a flag set with the common flags registered.
func (e *env) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	def := e.getenv("GROUNDWORK_CONFIG")
	if def == "" {
		def = "groundwork.yaml"
	}
	fs.StringVar(&e.configPath, "config", def, "configuration file")
	fs.StringVar(&e.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return fs
}

// parse parses args and sets up the logger.
func (e *env) parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	lvl, err := zapcore.ParseLevel(e.logLevel)
	if err != nil {
		return fmt.Errorf("%w: -log-level: %q is not one of debug, info, warn, error", errUsage, e.logLevel)
	}
	e.logger = newLogger(e.stderr, lvl)
	return nil
}

// newLogger logs JSON, or readable console lines when w is a terminal.
func newLogger(w io.Writer, lvl zapcore.Level) *zap.Logger {
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "ts"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		encCfg.EncodeLevel = zapcore.CapitalColorLevelEncoder
		encCfg.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), lvl))
}

// loadConfig loads the configuration file named by -config and logs it,
// secrets redacted.
func (e *env) loadConfig() (Config, error) {
	cfg, err := LoadConfig(e.configPath, e.getenv)
	if err != nil {
		return cfg, err
	}
	e.logger.Info("configuration loaded", zap.String("path", e.configPath), zap.String("config", cfg.String()))
	return cfg, nil
}
