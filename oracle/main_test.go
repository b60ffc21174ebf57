package oracle

// mesh-oracle is built as a test binary (go test -c) because Istio's traffic simulation takes a
// *testing.T (pilot/pkg/simulation/traffic.go NewSimulation). TestMain turns it into an
// ordinary CLI: it parses `mesh-oracle SUBCOMMAND ...`, rewrites os.Args so that the testing
// package runs exactly TestOracle (with a real *testing.T), and exits with the subcommand's
// status. The real stdout is kept for the JSON answer; fd 1 is pointed at stderr so that the
// testing package's and Istio's output never mixes into it.

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"istio.io/istio/pilot/pkg/features"
	istiolog "istio.io/istio/pkg/log"
)

const usage = `mesh-oracle: Istio's own config generation (istiod's test harness at the pinned commit), offline.

  mesh-oracle dump DIR --out OUT [--proxy POD.NS]... [--mesh-config FILE]
      Write OUT/POD.NS.json (Envoy admin config dump istiod would push, with endpoints) and
      OUT/POD.NS.clusters.json (Envoy /clusters?format=json) for every sidecar and gateway pod,
      or for the --proxy ones. Prints a JSON summary.
  mesh-oracle simulate DIR --proxy POD.NS (--call JSON | --calls FILE) [--mesh-config FILE]
      Istio's traffic simulation of one call (prints an object) or a list of calls (prints a list).
      Call: {"mode": "outbound|inbound|gateway", "port": 8080, "host": "...", "path": "/",
             "method": "GET", "headers": {...}, "protocol": "http|http2|tcp",
             "tls": "plaintext|tls|mtls", "address": "...", "sni": "...", "alpn": "..."}
  mesh-oracle serve DIR --listen 127.0.0.1:PORT|unix:///PATH [--sds-listen ADDR] [--debug-listen ADDR]
                   [--mesh-config FILE] [--istio-filters] [--ambient]
      ADS (gRPC, plaintext) for real Envoys, plus SDS (default, ROOTCA) from a test CA. Re-reads
      DIR on SIGHUP or POST /reload on the debug address. Prints one JSON line with the
      addresses once ready; runs until SIGTERM/SIGINT. With --ambient, GET /ztunnel?proxy=POD.NS
      on the debug address answers what istiod serves that ztunnel pod over delta xDS
      (istio.workload.Address, istio.security.Authorization, as protobuf JSON).
  mesh-oracle bootstrap DIR --proxy POD.NS --ads ADDR --sds ADDR [--admin ADDR]
      Print an Envoy bootstrap for the proxy (node ID and metadata as the agent sets them).
  mesh-oracle inputs DIR [--mesh-config FILE]
      Print what the oracle feeds istiod: objects, generated EndpointSlices and ClusterIPs,
      proxies with their node IDs, warnings.
  mesh-oracle version

Common flags: --ambient (istiod's ambient mode, PILOT_ENABLE_AMBIENT=true: waypoint pods get waypoint
  config, the ambient index reads AuthorizationPolicy/PeerAuthentication/ServiceEntry/WorkloadEntry),
  --proxy-version V (ISTIO_VERSION the proxies announce, default ` + DefaultProxyVersion + `),
  --no-validate (keep Istio configs Istio's validation refuses), --verbose (Istio logs on stderr).
DIR is a directory of Kubernetes and Istio YAML (or one file).
`

// command is the parsed command line: a subcommand, positional arguments and --flags.
type command struct {
	name  string
	args  []string
	flags map[string][]string
}

var (
	boolFlags  = map[string]bool{"verbose": true, "no-eds": true, "istio-filters": true, "no-validate": true, "ambient": true}
	valueFlags = map[string]bool{
		"out": true, "mesh-config": true, "proxy": true, "proxy-version": true, "call": true, "calls": true,
		"listen": true, "sds-listen": true, "debug-listen": true, "ads": true, "sds": true, "admin": true,
	}
)

func parseCommand(argv []string) (*command, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("no subcommand")
	}
	c := &command{name: argv[0], flags: map[string][]string{}}
	switch c.name {
	case "-h", "--help", "help":
		c.name = "help"
		return c, nil
	case "dump", "simulate", "serve", "bootstrap", "inputs", "version":
	default:
		return nil, fmt.Errorf("unknown subcommand %q", c.name)
	}
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			c.args = append(c.args, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case name == "h" || name == "help":
			c.name = "help"
			return c, nil
		case boolFlags[name]:
			c.flags[name] = append(c.flags[name], "true")
		case valueFlags[name]:
			if !hasValue {
				if i+1 >= len(argv) {
					return nil, fmt.Errorf("--%s needs a value", name)
				}
				i++
				value = argv[i]
			}
			c.flags[name] = append(c.flags[name], value)
		default:
			return nil, fmt.Errorf("unknown flag %s", a)
		}
	}
	return c, nil
}

func (c *command) str(name, def string) string {
	if v := c.flags[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	return def
}

func (c *command) list(name string) []string { return c.flags[name] }

func (c *command) has(name string) bool { return len(c.flags[name]) > 0 }

func (c *command) arg(i int, what string) (string, error) {
	if i >= len(c.args) {
		return "", fmt.Errorf("%s needs %s", c.name, what)
	}
	return c.args[i], nil
}

func (c *command) loadOptions() loadOptions {
	return loadOptions{MeshConfigFile: c.str("mesh-config", ""), NoValidate: c.has("no-validate")}
}

var (
	cli    *command
	stdout = os.Stdout // the real stdout, for the JSON answer
)

func TestMain(m *testing.M) {
	c, err := parseCommand(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "mesh-oracle: %v\n\n%s", err, usage)
		os.Exit(2)
	}
	switch c.name {
	case "help":
		fmt.Print(usage)
		os.Exit(0)
	case "version":
		b, _ := json.MarshalIndent(istioPin(), "", "  ")
		fmt.Println(string(b))
		os.Exit(0)
	}
	// --ambient: istiod's ambient mode. Its feature flags are read from the environment when the
	// packages initialise (pilot/pkg/features/ambient.go), i.e. before this runs: start again with
	// PILOT_ENABLE_AMBIENT=true.
	if c.has("ambient") && !features.EnableAmbient {
		if err := syscall.Exec("/proc/self/exe", os.Args, append(os.Environ(), "PILOT_ENABLE_AMBIENT=true")); err != nil {
			fmt.Fprintln(os.Stderr, "mesh-oracle: --ambient:", err)
			os.Exit(1)
		}
	}
	cli = c
	if err := redirectStdout(); err != nil {
		fmt.Fprintln(os.Stderr, "mesh-oracle:", err)
		os.Exit(1)
	}
	configureLogging(c.has("verbose"))
	args := []string{os.Args[0], "-test.run=^TestOracle$", "-test.count=1", "-test.timeout=0"}
	if c.has("verbose") {
		args = append(args, "-test.v")
	}
	os.Args = args
	m.Run() // TestOracle exits the process itself unless Istio's harness failed the test
	fmt.Fprintln(os.Stderr, "mesh-oracle: failed inside Istio's test harness (messages above)")
	os.Exit(1)
}

func TestOracle(t *testing.T) {
	if cli == nil {
		t.Skip("run as: mesh-oracle SUBCOMMAND ...")
	}
	var err error
	switch cli.name {
	case "dump":
		err = runDump(t, cli)
	case "simulate":
		err = runSimulate(t, cli)
	case "serve":
		err = runServe(t, cli)
	case "bootstrap":
		err = runBootstrap(cli)
	case "inputs":
		err = runInputs(cli)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mesh-oracle:", err)
		os.Exit(1)
	}
	// Exit here rather than return: the testing package would print PASS. Reaching this line
	// means the harness did not t.Fatal (that ends this goroutine and m.Run reports it).
	os.Exit(0)
}

// redirectStdout keeps the real stdout for writeJSON and points fd 1 at stderr.
func redirectStdout() error {
	fd, err := unix.Dup(1)
	if err != nil {
		return err
	}
	stdout = os.NewFile(uintptr(fd), "stdout")
	return unix.Dup3(2, 1, 0)
}

// configureLogging keeps Istio's logs on stderr, errors only unless --verbose.
func configureLogging(verbose bool) {
	o := istiolog.DefaultOptions()
	o.OutputPaths = []string{"stderr"}
	_ = istiolog.Configure(o)
	if verbose {
		return
	}
	for _, s := range istiolog.Scopes() {
		s.SetOutputLevel(istiolog.ErrorLevel)
	}
}

func writeJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = stdout.Write(append(b, '\n'))
	return err
}

//go:embed go.mod
var goMod string

// istioPin reports the Istio module the binary was built from, read from the embedded go.mod
// (test binaries carry no module list in their build info).
func istioPin() map[string]string {
	out := map[string]string{"module": "istio.io/istio", "release": "1.31-dev (master at VERSION 1.31)"}
	for _, line := range strings.Split(goMod, "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "istio.io/istio":
			out["version"] = f[1]
			if i := strings.LastIndexByte(f[1], '-'); i > 0 {
				out["commit"] = f[1][i+1:]
			}
		case "istio.io/api":
			out["api"] = f[1]
		case "github.com/envoyproxy/go-control-plane/envoy":
			out["go-control-plane"] = f[1]
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		out["go"] = bi.GoVersion
	}
	return out
}
