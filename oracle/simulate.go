package oracle

// mesh-oracle simulate DIR --proxy POD.NS (--call JSON | --calls FILE): Istio's traffic
// simulation (pilot/pkg/simulation/traffic.go) of calls through the proxy's listeners, filter
// chains, routes and clusters, on the listeners istiod generates for the connected proxy.
//
// Istio's simulation matches routes on the path only ("TODO this only handles path" in
// matchRoute). Each result therefore also carries "envoy": the same virtual host matched the
// way Envoy does (path, headers incl. :method, query parameters), done by this oracle.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unsafe"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tcp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"istio.io/istio/pilot/pkg/simulation"
	"istio.io/istio/pilot/test/xdstest"
)

// Call is one simulated request (JSON in).
type Call struct {
	Name     string         `json:"name,omitempty"`
	Mode     string         `json:"mode,omitempty"`    // outbound (default), inbound, gateway
	Address  string         `json:"address,omitempty"` // default: the host's ClusterIP (outbound), the pod IP (inbound)
	Port     int            `json:"port"`
	Protocol string         `json:"protocol,omitempty"` // http (default), http2, tcp
	TLS      string         `json:"tls,omitempty"`      // plaintext (default), tls, mtls
	Alpn     string         `json:"alpn,omitempty"`
	Sni      string         `json:"sni,omitempty"`
	Host     string         `json:"host,omitempty"` // Host header
	Path     string         `json:"path,omitempty"`
	Method   string         `json:"method,omitempty"`
	Headers  map[string]any `json:"headers,omitempty"` // string or list of strings
}

// Result is the simulation's answer (JSON out).
type Result struct {
	Name             string           `json:"name,omitempty"`
	Call             Call             `json:"call"`
	Listener         string           `json:"listener,omitempty"`
	FilterChain      string           `json:"filter_chain,omitempty"`
	RouteConfig      string           `json:"route_config,omitempty"`
	VirtualHost      string           `json:"virtual_host,omitempty"`
	Route            string           `json:"route,omitempty"`
	Cluster          string           `json:"cluster,omitempty"`
	WeightedClusters []weightedTarget `json:"weighted_clusters,omitempty"`
	Error            string           `json:"error,omitempty"`
	ErrorCode        string           `json:"error_code,omitempty"`
	Envoy            *envoyMatch      `json:"envoy,omitempty"`
}

type weightedTarget struct {
	Cluster string `json:"cluster"`
	Weight  uint32 `json:"weight"`
}

// envoyMatch is the route Envoy would pick in the matched virtual host, headers included.
type envoyMatch struct {
	Route            string           `json:"route,omitempty"`
	RouteIndex       int              `json:"route_index"`
	Action           string           `json:"action,omitempty"` // route, redirect, direct_response
	Cluster          string           `json:"cluster,omitempty"`
	WeightedClusters []weightedTarget `json:"weighted_clusters,omitempty"`
	Status           uint32           `json:"status,omitempty"` // direct_response
	Error            string           `json:"error,omitempty"`
}

var errorCodes = map[error]string{
	simulation.ErrNoListener:          "no_listener",
	simulation.ErrNoFilterChain:       "no_filter_chain",
	simulation.ErrNoRoute:             "no_route",
	simulation.ErrTLSRedirect:         "tls_redirect",
	simulation.ErrNoVirtualHost:       "no_virtual_host",
	simulation.ErrMultipleFilterChain: "multiple_filter_chains",
	simulation.ErrProtocolError:       "protocol_error",
	simulation.ErrTLSError:            "tls_error",
	simulation.ErrMTLSError:           "mtls_error",
}

func runSimulate(t *testing.T, c *command) error {
	dir, err := c.arg(0, "DIR")
	if err != nil {
		return err
	}
	calls, single, err := readCalls(c)
	if err != nil {
		return err
	}
	in, err := loadInputs(dir, c.loadOptions())
	if err != nil {
		return err
	}
	if c.str("proxy", "") == "" {
		return fmt.Errorf("simulate needs --proxy POD.NS")
	}
	p, err := in.Proxy(c.str("proxy", ""), c.str("proxy-version", DefaultProxyVersion))
	if err != nil {
		return err
	}
	for _, w := range in.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	f := newServer(t, in, serverOptions{})
	// Connect as the proxy so istiod builds it on its real path, then simulate on that proxy.
	_, closeFn, err := connectProxy(f, p, in.Mesh.GetTrustDomain())
	if err != nil {
		return err
	}
	proxy := connectedProxy(f, p.ID)
	closeFn()
	if proxy == nil {
		return fmt.Errorf("istiod did not keep a proxy for %s", p.ID)
	}
	sim := simulation.NewSimulation(t, f, proxy)
	results := make([]Result, 0, len(calls))
	for i, call := range calls {
		results = append(results, simulateOne(t, sim, in, p, call, i))
	}
	if single {
		return writeJSON(results[0])
	}
	return writeJSON(results)
}

func readCalls(c *command) ([]Call, bool, error) {
	if j := c.str("call", ""); j != "" {
		var call Call
		if err := json.Unmarshal([]byte(j), &call); err != nil {
			return nil, false, fmt.Errorf("--call: %v", err)
		}
		return []Call{call}, true, nil
	}
	if file := c.str("calls", ""); file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, false, err
		}
		var calls []Call
		if err := json.Unmarshal(data, &calls); err != nil {
			return nil, false, fmt.Errorf("--calls %s: %v", file, err)
		}
		return calls, false, nil
	}
	return nil, false, fmt.Errorf("simulate needs --call JSON or --calls FILE")
}

// simulateOne runs one call in a subtest: the simulation calls t.Fatal on configurations it
// cannot evaluate (e.g. an unknown path matcher), which must end that call only.
func simulateOne(t *testing.T, sim *simulation.Simulation, in *Inputs, p *ProxySpec, call Call, i int) Result {
	res := Result{Name: call.Name, Error: "the simulation aborted on this call (see stderr)", ErrorCode: "simulation_failed"}
	input, err := toSimCall(call, in, p)
	if err != nil {
		return Result{Name: call.Name, Call: call, Error: err.Error(), ErrorCode: "bad_call"}
	}
	res.Call = call
	t.Run(fmt.Sprintf("call-%d", i), func(st *testing.T) {
		defer func() {
			if r := recover(); r != nil {
				res.Error = fmt.Sprintf("the simulation panicked on this call: %v", r)
			}
		}()
		s := withT(sim, st)
		r := s.Run(input)
		res = Result{
			Name: call.Name, Call: call,
			Listener: r.ListenerMatched, FilterChain: r.FilterChainMatched,
			RouteConfig: r.RouteConfigMatched, VirtualHost: r.VirtualHostMatched,
			Route: r.RouteMatched, Cluster: r.ClusterMatched,
		}
		if r.Error != nil {
			res.Error = r.Error.Error()
			res.ErrorCode = errorCodes[r.Error]
			if res.ErrorCode == "" {
				res.ErrorCode = "other"
			}
		}
		fc := findFilterChain(sim.Listeners, r.ListenerMatched, r.FilterChainMatched)
		if tp := tcpProxyOf(fc); tp != nil {
			for _, wc := range tp.GetWeightedClusters().GetClusters() {
				res.WeightedClusters = append(res.WeightedClusters, weightedTarget{wc.Name, wc.Weight})
			}
		}
		if r.VirtualHostMatched != "" {
			vh := findVirtualHost(st, sim.Routes, r.RouteConfigMatched, fc, r.VirtualHostMatched)
			if vh != nil {
				if rt := routeByName(vh, r.RouteMatched, input.Path); rt != nil {
					res.WeightedClusters = weighted(rt)
				}
				res.Envoy = envoyRoute(vh, input, call)
			}
		}
	})
	return res
}

// withT gives the simulation the subtest's T. Simulation keeps its *testing.T unexported
// (traffic.go) and its own withT is unexported too, so set the field by reflection.
func withT(sim *simulation.Simulation, t *testing.T) *simulation.Simulation {
	cpy := *sim
	f := reflect.ValueOf(&cpy).Elem().FieldByName("t")
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Set(reflect.ValueOf(t))
	return &cpy
}

func toSimCall(c Call, in *Inputs, p *ProxySpec) (simulation.Call, error) {
	mode := simulation.CallModeOutbound
	switch strings.ToLower(c.Mode) {
	case "", "outbound":
	case "inbound":
		mode = simulation.CallModeInbound
	case "gateway":
		mode = simulation.CallModeGateway
	default:
		return simulation.Call{}, fmt.Errorf("mode %q: want outbound, inbound or gateway", c.Mode)
	}
	if c.Port == 0 {
		return simulation.Call{}, fmt.Errorf("a call needs a port")
	}
	addr := c.Address
	if addr != "" && net.ParseIP(addr) == nil {
		return simulation.Call{}, fmt.Errorf("address %q is not an IP address", addr)
	}
	if addr == "" {
		switch mode {
		case simulation.CallModeInbound:
			addr = p.IP
		case simulation.CallModeGateway:
			addr = "0.0.0.0"
		default:
			addr = in.serviceAddress(c.Host, p.Pod.Namespace)
		}
	}
	proto := simulation.HTTP
	switch strings.ToLower(c.Protocol) {
	case "", "http", "http/1.1":
	case "http2", "h2", "grpc":
		proto = simulation.HTTP2
	case "tcp":
		proto = simulation.TCP
	default:
		return simulation.Call{}, fmt.Errorf("protocol %q: want http, http2 or tcp", c.Protocol)
	}
	tlsMode := simulation.Plaintext
	switch strings.ToLower(c.TLS) {
	case "", "plaintext", "none":
	case "tls":
		tlsMode = simulation.TLS
	case "mtls":
		tlsMode = simulation.MTLS
	default:
		return simulation.Call{}, fmt.Errorf("tls %q: want plaintext, tls or mtls", c.TLS)
	}
	path := c.Path
	if path == "" {
		path = "/"
	}
	headers := http.Header{}
	for k, v := range c.Headers {
		switch x := v.(type) {
		case string:
			headers[k] = []string{x}
		case []any:
			for _, e := range x {
				headers[k] = append(headers[k], fmt.Sprint(e))
			}
		default:
			headers[k] = []string{fmt.Sprint(x)}
		}
	}
	return simulation.Call{
		Address: addr, Port: c.Port, Path: path, Protocol: proto, TLS: tlsMode, Alpn: c.Alpn,
		HostHeader: c.Host, Headers: headers, Sni: c.Sni, CallMode: mode,
	}, nil
}

// serviceAddress resolves a host the way the pod's DNS would: NAME, NAME.NS, NAME.NS.svc[.cluster.local].
func (in *Inputs) serviceAddress(h, ns string) string {
	name := h
	if i := strings.LastIndexByte(name, ':'); i > 0 && !strings.Contains(name[i:], "]") {
		name = name[:i]
	}
	name = strings.TrimSuffix(strings.TrimSuffix(name, ".cluster.local"), ".svc")
	parts := strings.Split(name, ".")
	svcName, svcNS := parts[0], ns
	if len(parts) == 2 {
		svcNS = parts[1]
	} else if len(parts) > 2 {
		return "1.3.3.7" // an external host: any address, the outbound listener matches by port
	}
	for _, s := range in.Services {
		if s.Name == svcName && s.Namespace == svcNS && s.Spec.ClusterIP != "" && s.Spec.ClusterIP != "None" {
			return s.Spec.ClusterIP
		}
	}
	return "1.3.3.7"
}

func findFilterChain(ls []*listener.Listener, lname, fcname string) *listener.FilterChain {
	l := xdstest.ExtractListener(lname, ls)
	if l == nil {
		return nil
	}
	for _, fc := range l.FilterChains {
		if fc.Name == fcname {
			return fc
		}
	}
	if l.DefaultFilterChain != nil && l.DefaultFilterChain.Name == fcname {
		return l.DefaultFilterChain
	}
	return nil
}

func tcpProxyOf(fc *listener.FilterChain) *tcp.TcpProxy {
	if fc == nil || len(fc.Filters) == 0 {
		return nil
	}
	last := fc.Filters[len(fc.Filters)-1]
	t := &tcp.TcpProxy{}
	if last.GetTypedConfig().UnmarshalTo(t) != nil {
		return nil
	}
	return t
}

func findVirtualHost(t *testing.T, rcs []*route.RouteConfiguration, rcName string, fc *listener.FilterChain, vhName string) *route.VirtualHost {
	var rc *route.RouteConfiguration
	if rcName != "" {
		rc = xdstest.ExtractRouteConfigurations(rcs)[rcName]
	} else if fc != nil {
		if h := xdstest.ExtractHTTPConnectionManager(t, fc); h != nil {
			rc = h.GetRouteConfig()
		}
	}
	for _, vh := range rc.GetVirtualHosts() {
		if vh.Name == vhName {
			return vh
		}
	}
	return nil
}

// routeByName finds the route the simulation matched (first route with that name whose path
// matcher accepts the path, as traffic.go matchRoute walks them).
func routeByName(vh *route.VirtualHost, name, path string) *route.Route {
	for _, r := range vh.Routes {
		if r.Name == name && pathMatches(r.GetMatch(), path) {
			return r
		}
	}
	return nil
}

func weighted(r *route.Route) []weightedTarget {
	var out []weightedTarget
	for _, wc := range r.GetRoute().GetWeightedClusters().GetClusters() {
		out = append(out, weightedTarget{wc.Name, wc.GetWeight().GetValue()})
	}
	return out
}

// envoyRoute picks the first route of the virtual host whose match accepts the request, as
// Envoy does: path (prefix, exact, path-separated prefix, regex; case sensitivity), headers
// (including :method, :authority, :path, :scheme) and query parameters.
func envoyRoute(vh *route.VirtualHost, in simulation.Call, c Call) *envoyMatch {
	path, rawQuery, _ := strings.Cut(in.Path, "?")
	if path == "" {
		path = "/"
	}
	query, _ := url.ParseQuery(rawQuery)
	hdrs := map[string][]string{}
	for k, v := range in.Headers {
		hdrs[strings.ToLower(k)] = v
	}
	method := c.Method
	if method == "" {
		method = "GET"
	}
	hdrs[":method"] = []string{method}
	hdrs[":path"] = []string{in.Path}
	if c.Host != "" {
		hdrs[":authority"] = []string{c.Host}
		delete(hdrs, "host")
	}
	scheme := "http"
	if in.TLS != simulation.Plaintext {
		scheme = "https"
	}
	hdrs[":scheme"] = []string{scheme}
	for i, r := range vh.Routes {
		m := r.GetMatch()
		ok, err := requestMatches(m, path, hdrs, query)
		if err != nil {
			return &envoyMatch{Route: r.Name, RouteIndex: i, Error: err.Error()}
		}
		if !ok {
			continue
		}
		em := &envoyMatch{Route: r.Name, RouteIndex: i}
		switch a := r.GetAction().(type) {
		case *route.Route_Route:
			em.Action = "route"
			em.Cluster = a.Route.GetCluster()
			em.WeightedClusters = weighted(r)
		case *route.Route_Redirect:
			em.Action = "redirect"
		case *route.Route_DirectResponse:
			em.Action = "direct_response"
			em.Status = a.DirectResponse.GetStatus()
		default:
			em.Action = fmt.Sprintf("%T", a)
		}
		return em
	}
	return &envoyMatch{RouteIndex: -1, Error: simulation.ErrNoRoute.Error()}
}

func pathMatches(m *route.RouteMatch, path string) bool {
	ok, err := requestMatches(&route.RouteMatch{PathSpecifier: m.GetPathSpecifier(), CaseSensitive: m.GetCaseSensitive()}, strings.SplitN(path, "?", 2)[0], nil, nil)
	return ok && err == nil
}

func requestMatches(m *route.RouteMatch, path string, hdrs map[string][]string, query url.Values) (bool, error) {
	caseSensitive := m.GetCaseSensitive() == nil || m.GetCaseSensitive().GetValue()
	p := path
	fold := func(s string) string {
		if caseSensitive {
			return s
		}
		return strings.ToLower(s)
	}
	switch ps := m.GetPathSpecifier().(type) {
	case *route.RouteMatch_Prefix:
		if !strings.HasPrefix(fold(p), fold(ps.Prefix)) {
			return false, nil
		}
	case *route.RouteMatch_Path:
		if fold(p) != fold(ps.Path) {
			return false, nil
		}
	case *route.RouteMatch_PathSeparatedPrefix:
		pre := fold(ps.PathSeparatedPrefix)
		if fp := fold(p); fp != pre && !strings.HasPrefix(fp, pre+"/") {
			return false, nil
		}
	case *route.RouteMatch_SafeRegex:
		re, err := regexp.Compile("^(?:" + ps.SafeRegex.GetRegex() + ")$")
		if err != nil {
			return false, fmt.Errorf("regex %q: %v", ps.SafeRegex.GetRegex(), err)
		}
		if !re.MatchString(p) {
			return false, nil
		}
	case nil:
	default:
		return false, fmt.Errorf("path matcher %T is not evaluated by the oracle", ps)
	}
	for _, h := range m.GetHeaders() {
		vals, present := hdrs[strings.ToLower(h.GetName())]
		ok, err := headerMatches(h, strings.Join(vals, ","), present)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, q := range m.GetQueryParameters() {
		vals, present := query[q.GetName()]
		var ok bool
		switch {
		case q.GetPresentMatch():
			ok = present
		case q.GetStringMatch() != nil:
			if present {
				var err error
				ok, err = stringMatches(q.GetStringMatch(), vals[0])
				if err != nil {
					return false, err
				}
			}
		default:
			ok = present
		}
		if !ok {
			return false, nil
		}
	}
	if m.GetGrpc() != nil {
		ct := strings.Join(hdrs["content-type"], ",")
		if !strings.HasPrefix(ct, "application/grpc") {
			return false, nil
		}
	}
	return true, nil
}

// headerMatches follows envoy/config/route/v3 HeaderMatcher: a missing header never matches
// (unless treat_missing_header_as_empty), then invert_match flips the result.
func headerMatches(h *route.HeaderMatcher, value string, present bool) (bool, error) {
	if !present && h.GetTreatMissingHeaderAsEmpty() {
		present, value = true, ""
	}
	var ok bool
	switch spec := h.GetHeaderMatchSpecifier().(type) {
	case *route.HeaderMatcher_PresentMatch:
		ok = present == spec.PresentMatch
		if h.GetInvertMatch() {
			ok = !ok
		}
		return ok, nil
	case nil:
		ok = present
	case *route.HeaderMatcher_ExactMatch:
		ok = present && value == spec.ExactMatch
	case *route.HeaderMatcher_PrefixMatch:
		ok = present && strings.HasPrefix(value, spec.PrefixMatch)
	case *route.HeaderMatcher_SuffixMatch:
		ok = present && strings.HasSuffix(value, spec.SuffixMatch)
	case *route.HeaderMatcher_ContainsMatch:
		ok = present && strings.Contains(value, spec.ContainsMatch)
	case *route.HeaderMatcher_SafeRegexMatch:
		re, err := regexp.Compile("^(?:" + spec.SafeRegexMatch.GetRegex() + ")$")
		if err != nil {
			return false, err
		}
		ok = present && re.MatchString(value)
	case *route.HeaderMatcher_StringMatch:
		if present {
			var err error
			if ok, err = stringMatches(spec.StringMatch, value); err != nil {
				return false, err
			}
		}
	default:
		return false, fmt.Errorf("header matcher %T is not evaluated by the oracle", spec)
	}
	if !present {
		return false, nil // a missing header fails even an inverted match
	}
	if h.GetInvertMatch() {
		ok = !ok
	}
	return ok, nil
}

func stringMatches(m *matcher.StringMatcher, v string) (bool, error) {
	a, b := v, ""
	fold := func(s string) string {
		if m.GetIgnoreCase() {
			return strings.ToLower(s)
		}
		return s
	}
	switch p := m.GetMatchPattern().(type) {
	case *matcher.StringMatcher_Exact:
		b = p.Exact
		return fold(a) == fold(b), nil
	case *matcher.StringMatcher_Prefix:
		return strings.HasPrefix(fold(a), fold(p.Prefix)), nil
	case *matcher.StringMatcher_Suffix:
		return strings.HasSuffix(fold(a), fold(p.Suffix)), nil
	case *matcher.StringMatcher_Contains:
		return strings.Contains(fold(a), fold(p.Contains)), nil
	case *matcher.StringMatcher_SafeRegex:
		re, err := regexp.Compile("^(?:" + p.SafeRegex.GetRegex() + ")$")
		if err != nil {
			return false, err
		}
		return re.MatchString(v), nil
	}
	return false, errors.New("string matcher not evaluated by the oracle")
}
