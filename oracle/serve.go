package oracle

// mesh-oracle serve DIR --listen ADDR: the harness istiod serving ADS to real (upstream) Envoys,
// plus an SDS server with test certificates, plus a small debug HTTP server (reload, bootstrap,
// istiod's debug handlers). mesh-oracle bootstrap and mesh-oracle inputs live here too.
//
// Upstream Envoy does not have istio-proxy's extensions, so unless --istio-filters is given the
// filters it would reject are switched off, as the research report found in
// pilot/pkg/xds/filters/filters.go: PILOT_ENABLE_METADATA_EXCHANGE=false,
// PILOT_ENABLE_ALPN_FILTER=false (pilot/pkg/features, read when listeners and clusters are
// built) and no default metrics provider (istio.stats, pilot/pkg/model/telemetry.go).

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"istio.io/istio/pilot/pkg/features"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/gvk"
	kubelib "istio.io/istio/pkg/kube"
)

type serveState struct {
	mu      sync.Mutex
	dir     string
	opts    loadOptions
	version string
	keep    bool // --istio-filters
	in      *Inputs
	f       fakeServer
	ads     string
	sds     string
	reloads int
	// ztunnel pod ID -> its workload xDS subscription (ztunnel.go)
	ztunnels map[string]*ztunnelClient
}

func runServe(t *testing.T, c *command) error {
	dir, err := c.arg(0, "DIR")
	if err != nil {
		return err
	}
	st := &serveState{dir: dir, opts: c.loadOptions(), version: c.str("proxy-version", DefaultProxyVersion), keep: c.has("istio-filters")}
	if !st.keep {
		features.MetadataExchange = false
		features.ALPNFilter = false
	}
	if st.in, err = st.load(); err != nil {
		return err
	}
	adsL, adsAddr, err := listen(c.str("listen", "127.0.0.1:15010"))
	if err != nil {
		return err
	}
	sdsDefaultAddr := "127.0.0.1:0"
	if strings.HasPrefix(adsAddr, "unix://") {
		sdsDefaultAddr = "unix://" + filepath.Join(filepath.Dir(strings.TrimPrefix(adsAddr, "unix://")), "sds.sock")
	}
	sdsL, sdsAddr, err := listen(c.str("sds-listen", sdsDefaultAddr))
	if err != nil {
		return err
	}
	debugL, debugAddr, err := listen(c.str("debug-listen", "127.0.0.1:0"))
	if err != nil {
		return err
	}
	if strings.HasPrefix(debugAddr, "unix://") {
		return fmt.Errorf("--debug-listen must be a 127.0.0.1 TCP address")
	}
	st.ads, st.sds = adsAddr, sdsAddr
	// The process exits without running t's cleanups: close the unix sockets (removes the files).
	defer adsL.Close()
	defer sdsL.Close()

	ca, err := newTestCA(st.in.Mesh.GetTrustDomain())
	if err != nil {
		return err
	}
	sds := grpc.NewServer()
	secretv3.RegisterSecretDiscoveryServiceServer(sds, &sdsServer{ca: ca})
	go func() { _ = sds.Serve(sdsL) }()
	t.Cleanup(sds.Stop)

	st.f = newServer(t, st.in, serverOptions{listener: func() (net.Listener, error) { return adsL, nil }})
	if !st.keep {
		useUpstreamGenerators(st.f) // upstream.go
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST /reload", http.StatusMethodNotAllowed)
			return
		}
		res, err := st.reload()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		respondJSON(w, res)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/ca.pem", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(ca.certPEM) })
	mux.HandleFunc("/bootstrap", func(w http.ResponseWriter, r *http.Request) {
		st.mu.Lock()
		p, err := st.in.Proxy(r.URL.Query().Get("proxy"), st.version)
		td := st.in.Mesh.GetTrustDomain()
		st.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		admin := r.URL.Query().Get("admin")
		if admin == "" {
			admin = "127.0.0.1:15000"
		}
		b, err := envoyBootstrap(p, td, st.ads, st.sds, admin)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		respondJSON(w, b)
	})
	mux.HandleFunc("/inputs", func(w http.ResponseWriter, _ *http.Request) {
		st.mu.Lock()
		defer st.mu.Unlock()
		respondJSON(w, inputsSummary(st.in, st.version))
	})
	mux.HandleFunc("/ztunnel", func(w http.ResponseWriter, r *http.Request) {
		z, err := st.ztunnel(r.URL.Query().Get("proxy"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		snap, err := z.snapshot()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		respondJSON(w, snap)
	})
	t.Cleanup(st.closeZtunnels)
	// istiod's own debug handlers: /debug/config_dump?proxyID=POD.NS, /debug/syncz, /debug/adsz, ...
	mux.Handle("/debug/", st.f.DiscoveryDebug)
	httpSrv := &http.Server{Handler: mux}
	go func() { _ = httpSrv.Serve(debugL) }()
	t.Cleanup(func() { _ = httpSrv.Close() })

	proxies, _ := st.in.Proxies(st.version)
	var ids []string
	for _, p := range proxies {
		ids = append(ids, p.ID)
	}
	ztunnels := []string{}
	for _, p := range st.in.Ztunnels(st.version) {
		ztunnels = append(ztunnels, p.ID)
	}
	ready := map[string]any{
		"ads": adsAddr, "sds": sdsAddr, "debug": "http://" + debugAddr, "pid": os.Getpid(),
		"istio": istioPin()["version"], "proxy_version": st.version, "mesh_config": st.in.MeshSource,
		"istio_proxy_filters": st.keep, "proxies": ids, "warnings": nonNil(st.in.Warnings),
		"ambient": features.EnableAmbient, "ztunnels": ztunnels,
	}
	b, _ := json.Marshal(ready)
	if _, err := stdout.Write(append(b, '\n')); err != nil {
		return err
	}

	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	for s := range sig {
		if s != syscall.SIGHUP {
			return nil
		}
		res, err := st.reload()
		if err != nil {
			fmt.Fprintln(os.Stderr, "mesh-oracle: reload:", err)
			continue
		}
		b, _ := json.Marshal(res)
		fmt.Fprintln(os.Stderr, "mesh-oracle: reloaded:", string(b))
	}
	return nil
}

// load reads DIR and applies the upstream-Envoy adjustments to the mesh config.
func (st *serveState) load() (*Inputs, error) {
	in, err := loadInputs(st.dir, st.opts)
	if err != nil {
		return nil, err
	}
	if !st.keep && in.Mesh.GetDefaultProviders() != nil {
		in.Mesh.DefaultProviders.Metrics = nil
	}
	return in, nil
}

// reload re-reads DIR and applies the difference to the running istiod the way a cluster
// would deliver it: Kubernetes objects through the fake API server's object tracker (so the
// informers see add/update/delete events), Istio configs through the config store. istiod
// then pushes to the connected Envoys.
func (st *serveState) reload() (map[string]any, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	in, err := st.load()
	if err != nil {
		return nil, err
	}
	old := map[objKey]object{}
	for _, o := range st.in.Objects {
		old[o.key] = o
	}
	changes := map[string][]string{"added": {}, "updated": {}, "deleted": {}, "errors": {}}
	note := func(kind string, k objKey, err error) {
		if err != nil {
			changes["errors"] = append(changes["errors"], fmt.Sprintf("%s %s: %v", kind, k, err))
			return
		}
		changes[kind] = append(changes[kind], k.String())
	}
	for _, o := range in.Objects {
		prev, found := old[o.key]
		delete(old, o.key)
		switch {
		case !found:
			note("added", o.key, st.apply(o, "create"))
		case prev.hash != o.hash:
			note("updated", o.key, st.apply(o, "update"))
		}
	}
	for _, o := range old {
		note("deleted", o.key, st.apply(o, "delete"))
	}
	if !proto.Equal(in.Mesh, st.in.Mesh) {
		changes["errors"] = append(changes["errors"], "the mesh config changed: restart the oracle to apply it")
		in.Mesh = st.in.Mesh
	}
	st.in = in
	st.reloads++
	st.f.EnsureSynced(st.f.T())
	return map[string]any{"reload": st.reloads, "changes": changes, "warnings": nonNil(in.Warnings)}, nil
}

func (st *serveState) apply(o object, op string) error {
	if o.cfg != nil {
		store := st.f.Store()
		var err error
		switch op {
		case "create":
			_, err = store.Create(*o.cfg)
		case "update":
			_, err = store.Update(*o.cfg)
		default:
			err = store.Delete(o.cfg.GroupVersionKind, o.cfg.Name, o.cfg.Namespace, nil)
		}
		if err != nil || o.kube == nil {
			return err
		}
		// an Istio kind the ambient index also reads from the API server (input.go ambientKinds)
	}
	tracker, gvr, err := st.trackerFor(o.kube)
	if err != nil {
		return err
	}
	switch op {
	case "create":
		return tracker.Create(gvr, o.kube.DeepCopyObject(), o.key.Namespace)
	case "update":
		return tracker.Update(gvr, o.kube.DeepCopyObject(), o.key.Namespace)
	default:
		return tracker.Delete(gvr, o.key.Namespace, o.key.Name)
	}
}

// trackerFor finds the fake clientset holding a kind, as pkg/kube/client.go setupFakeClient
// routes objects (by API group), and the resource name it is stored under.
func (st *serveState) trackerFor(obj runtime.Object) (k8stesting.ObjectTracker, schema.GroupVersionResource, error) {
	k := obj.GetObjectKind().GroupVersionKind()
	if k.Kind == "" {
		if gvks, _, err := kubelib.IstioScheme.ObjectKinds(obj); err == nil && len(gvks) > 0 {
			k = gvks[0]
		}
	}
	c := st.f.KubeClient()
	var client any = c.Kube()
	switch {
	case strings.Contains(k.Group, "istio.io"):
		client = c.Istio()
	case strings.Contains(k.Group, "gateway.networking.k8s.io"), strings.Contains(k.Group, "gateway.networking.x-k8s.io"):
		client = c.GatewayAPI()
	case strings.Contains(k.Group, "inference.networking"):
		client = c.GatewayAPIInference()
	}
	tr, ok := client.(interface {
		Tracker() k8stesting.ObjectTracker
	})
	if !ok {
		return nil, schema.GroupVersionResource{}, fmt.Errorf("no fake clientset for %v", k)
	}
	gvr, found := gvk.ToGVR(config.FromKubernetesGVK(k))
	if !found {
		gvr, _ = meta.UnsafeGuessKindToResource(k)
	}
	if gvr.Group == "core" {
		gvr.Group = ""
	}
	return tr.Tracker(), gvr, nil
}

func respondJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	b, _ := json.MarshalIndent(v, "", "  ")
	_, _ = w.Write(append(b, '\n'))
}

// listen binds a 127.0.0.1 TCP address or a unix socket (unix:///path).
func listen(addr string) (net.Listener, string, error) {
	if path, ok := strings.CutPrefix(addr, "unix://"); ok {
		_ = os.Remove(path)
		l, err := net.Listen("unix", path)
		return l, "unix://" + path, err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, "", err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, "", fmt.Errorf("%s: the oracle only listens on loopback (127.0.0.1) or unix sockets", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	return l, l.Addr().String(), nil
}

// envoyAddress is an Envoy core.Address (JSON) for a host:port or unix:///path.
func envoyAddress(addr string) (map[string]any, error) {
	if path, ok := strings.CutPrefix(addr, "unix://"); ok {
		return map[string]any{"pipe": map[string]any{"path": path}}, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var n int
	if _, err := fmt.Sscanf(port, "%d", &n); err != nil {
		return nil, fmt.Errorf("%s: bad port", addr)
	}
	return map[string]any{"socket_address": map[string]any{"address": host, "port_value": n}}, nil
}

// envoyBootstrap is a minimal Envoy bootstrap for a proxy: the agent's node ID and metadata,
// ADS on cluster xds-grpc, SDS on cluster sds-grpc (the names istiod's config refers to),
// and the admin address.
func envoyBootstrap(p *ProxySpec, trustDomain, ads, sds, admin string) (map[string]any, error) {
	metaJSON, err := json.Marshal(p.Meta)
	if err != nil {
		return nil, err
	}
	var meta map[string]any
	if err := json.Unmarshal(metaJSON, &meta); err != nil {
		return nil, err
	}
	adminAddr, err := envoyAddress(admin)
	if err != nil {
		return nil, err
	}
	grpcCluster := func(name, addr string) (map[string]any, error) {
		a, err := envoyAddress(addr)
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"name": name, "type": "STATIC", "connect_timeout": "1s",
			"load_assignment": map[string]any{"cluster_name": name, "endpoints": []any{map[string]any{
				"lb_endpoints": []any{map[string]any{"endpoint": map[string]any{"address": a}}},
			}}},
			"typed_extension_protocol_options": map[string]any{
				"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": map[string]any{
					"@type":                "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
					"explicit_http_config": map[string]any{"http2_protocol_options": map[string]any{}},
				},
			},
		}, nil
	}
	xdsC, err := grpcCluster("xds-grpc", ads)
	if err != nil {
		return nil, err
	}
	sdsC, err := grpcCluster("sds-grpc", sds)
	if err != nil {
		return nil, err
	}
	adsSource := map[string]any{"ads": map[string]any{}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"}
	return map[string]any{
		"node": map[string]any{
			"id": p.NodeID, "cluster": p.Meta.WorkloadName + "." + p.Pod.Namespace, "metadata": meta,
		},
		"admin": map[string]any{"address": adminAddr},
		// Istio's bootstrap sets the same connection limit (tools/packaging/common/envoy_bootstrap.json).
		"overload_manager": map[string]any{"resource_monitors": []any{map[string]any{
			"name": "envoy.resource_monitors.global_downstream_max_connections",
			"typed_config": map[string]any{
				"@type":                             "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
				"max_active_downstream_connections": 2147483647,
			},
		}}},
		"dynamic_resources": map[string]any{
			"ads_config": map[string]any{
				"api_type": "GRPC", "transport_api_version": "V3", "set_node_on_first_message_only": true,
				"grpc_services": []any{map[string]any{
					"envoy_grpc":       map[string]any{"cluster_name": "xds-grpc"},
					"initial_metadata": []any{map[string]any{"key": identityHeader, "value": p.Identity(trustDomain)}},
				}},
			},
			"cds_config": adsSource,
			"lds_config": adsSource,
		},
		"static_resources": map[string]any{"clusters": []any{xdsC, sdsC}},
	}, nil
}

func runBootstrap(c *command) error {
	dir, err := c.arg(0, "DIR")
	if err != nil {
		return err
	}
	in, err := loadInputs(dir, c.loadOptions())
	if err != nil {
		return err
	}
	p, err := in.Proxy(c.str("proxy", ""), c.str("proxy-version", DefaultProxyVersion))
	if err != nil {
		return err
	}
	if c.str("ads", "") == "" || c.str("sds", "") == "" {
		return fmt.Errorf("bootstrap needs --ads ADDR and --sds ADDR")
	}
	b, err := envoyBootstrap(p, in.Mesh.GetTrustDomain(), c.str("ads", ""), c.str("sds", ""), c.str("admin", "127.0.0.1:15000"))
	if err != nil {
		return err
	}
	return writeJSON(b)
}

func runInputs(c *command) error {
	dir, err := c.arg(0, "DIR")
	if err != nil {
		return err
	}
	in, err := loadInputs(dir, c.loadOptions())
	if err != nil {
		return err
	}
	return writeJSON(inputsSummary(in, c.str("proxy-version", DefaultProxyVersion)))
}

func inputsSummary(in *Inputs, version string) map[string]any {
	var objs []map[string]any
	for _, o := range in.Objects {
		e := map[string]any{"key": o.key.String()}
		if o.generated {
			e["generated"] = true
			e["object"] = o.kube
		}
		objs = append(objs, e)
	}
	var services []map[string]any
	for _, s := range in.Services {
		services = append(services, map[string]any{"name": s.Name, "namespace": s.Namespace, "cluster_ip": s.Spec.ClusterIP})
	}
	proxies, _ := in.Proxies(version)
	var ps []map[string]any
	for _, p := range proxies {
		ps = append(ps, map[string]any{"id": p.ID, "type": p.Type, "node_id": p.NodeID, "ip": p.IP, "metadata": p.Meta})
	}
	return map[string]any{
		"mesh_config": in.MeshSource, "generated": in.Generated, "ignored_kinds": in.Ignored, "converted": in.Converted,
		"warnings": nonNil(in.Warnings), "objects": objs, "services": services, "proxies": ps,
	}
}
