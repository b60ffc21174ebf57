package oracle

// The in-process istiod (Istio's own test harness, pilot/test/xds/fake.go) and a small ADS
// client that subscribes like Envoy does, so that istiod's real connection path
// (initProxyMetadata, computeProxyState) builds the proxy, and its debug handler
// /debug/config_dump (pilot/pkg/xds/debug.go) can dump what it would push.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	metadatafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"
	gwconsts "sigs.k8s.io/gateway-api/pkg/consts"

	"istio.io/istio/pilot/pkg/model"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pilot/test/xds"
	kubelib "istio.io/istio/pkg/kube"
	"istio.io/istio/pkg/security"
	"istio.io/istio/pkg/util/protomarshal"
	"istio.io/istio/pkg/wellknown"
)

// identityHeader carries the proxy's SPIFFE identity on the plaintext ADS stream. Real istiod
// takes it from the client certificate on 15012; without it proxy.VerifiedIdentity stays nil
// and the SDS generator serves no credentialName secrets (pilot/pkg/xds/sds.go Generate).
const identityHeader = "x-mesh-oracle-identity"

// headerAuthenticator trusts identityHeader. Connections without the header are accepted with
// no identity, as plaintext 15010 connections are in istiod.
type headerAuthenticator struct{}

func (headerAuthenticator) AuthenticatorType() string { return "MeshOracleHeader" }

func (headerAuthenticator) Authenticate(ctx security.AuthContext) (*security.Caller, error) {
	return &security.Caller{AuthSource: security.AuthSourceClientCertificate, Identities: ctx.Header(identityHeader)}, nil
}

// fakeServer is the harness istiod.
type fakeServer = *xds.FakeDiscoveryServer

type serverOptions struct {
	listener func() (net.Listener, error) // nil: in-memory bufconn
}

// newServer starts the harness istiod on the inputs. It lives until t ends.
func newServer(t *testing.T, in *Inputs, opts serverOptions) *xds.FakeDiscoveryServer {
	// Run the authenticators on plaintext connections too (pkg/security/authentication.go).
	security.AuthPlaintext = true
	f := xds.NewFakeDiscoveryServer(t, xds.FakeOptions{
		KubernetesObjects:          in.KubeObjects(),
		Configs:                    in.Configs(),
		MeshConfig:                 in.Mesh,
		KubernetesVersion:          "34",
		DisableSecretAuthorization: true, // the fake client has no RBAC; gateways may read their namespace's secrets
		ListenerBuilder:            opts.listener,
		KubeClientModifier:         annotateGatewayAPICRDs,
	})
	f.Discovery.Authenticators = append(f.Discovery.Authenticators, headerAuthenticator{})
	return f
}

// annotateGatewayAPICRDs gives the fake Gateway API CRDs the bundle-version annotation real
// CRDs carry. Without it istiod ignores the kinds with a minimum CRD version (TCPRoute,
// TLSRoute, GRPCRoute: pkg/kube/kclient/crdwatcher.go minimumVersionFilter), and the harness
// makes its CRDs without annotations (pkg/kube/kclient/clienttest/crd.go MakeCRD).
func annotateGatewayAPICRDs(c kubelib.Client) {
	fmc, ok := c.Metadata().(*metadatafake.FakeMetadataClient)
	if !ok {
		return
	}
	fmc.PrependReactor("*", "customresourcedefinitions", func(a k8stesting.Action) (bool, runtime.Object, error) {
		var obj runtime.Object
		switch x := a.(type) {
		case k8stesting.CreateAction:
			obj = x.GetObject()
		case k8stesting.UpdateAction:
			obj = x.GetObject()
		}
		if m, ok := obj.(metav1.Object); ok && strings.HasSuffix(m.GetName(), ".gateway.networking.k8s.io") {
			a := m.GetAnnotations()
			if a == nil {
				a = map[string]string{}
			}
			if a[gwconsts.BundleVersionAnnotation] == "" {
				a[gwconsts.BundleVersionAnnotation] = gwconsts.BundleVersion
			}
			m.SetAnnotations(a)
		}
		return false, nil, nil
	})
}

// adsResult is what the ADS client received.
type adsResult struct {
	Clusters  []*cluster.Cluster
	Listeners []*listener.Listener
	Endpoints []*endpoint.ClusterLoadAssignment
	Routes    []string // route names asked for
	Secrets   []string // secret names asked for
}

// connectProxy opens an ADS stream as the proxy and subscribes like Envoy: CDS, then EDS for
// the EDS clusters, LDS, then RDS for the routes the listeners name and SDS for the secrets they
// fetch over ADS. It returns once every subscription was answered; the stream stays open until
// the returned close function is called (the debug handlers need a connected proxy).
func connectProxy(f *xds.FakeDiscoveryServer, p *ProxySpec, trustDomain string) (*adsResult, func(), error) {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	target := f.Listener.Addr().String()
	if f.BufListener != nil {
		target = "passthrough:///bufconn"
		opts = append(opts, grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) {
			return f.BufListener.Dial()
		}))
	}
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), identityHeader, p.Identity(trustDomain)))
	closeFn := func() {
		cancel()
		_ = conn.Close()
		waitDisconnected(f, p.ID)
	}
	res, err := subscribe(ctx, conn, p)
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	return res, closeFn, nil
}

func subscribe(ctx context.Context, conn *grpc.ClientConn, p *ProxySpec) (*adsResult, error) {
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return nil, err
	}
	meta, err := p.MetaStruct()
	if err != nil {
		return nil, err
	}
	node := &core.Node{Id: p.NodeID, Cluster: p.Meta.WorkloadName + "." + p.Pod.Namespace, Metadata: meta}
	names := map[string][]string{} // subscribed resource names by type
	first := true
	send := func(typeURL string, resourceNames []string, resp *discovery.DiscoveryResponse) error {
		req := &discovery.DiscoveryRequest{TypeUrl: typeURL, ResourceNames: resourceNames}
		if first {
			req.Node = node
			first = false
		}
		if resp != nil {
			req.VersionInfo, req.ResponseNonce = resp.VersionInfo, resp.Nonce
		}
		names[typeURL] = resourceNames
		return stream.Send(req)
	}
	pending := map[string]bool{v3.ClusterType: true}
	if err := send(v3.ClusterType, nil, nil); err != nil {
		return nil, err
	}
	msgs := make(chan *discovery.DiscoveryResponse)
	errs := make(chan error, 1)
	go func() {
		for {
			r, err := stream.Recv()
			if err != nil {
				errs <- err
				return
			}
			select {
			case msgs <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	res := &adsResult{}
	timeout := time.After(30 * time.Second)
	var grace <-chan time.Time
	for {
		// SDS is answered only for secrets istiod may serve to this proxy; give it a moment once
		// everything else arrived instead of waiting for an answer that may not come.
		if len(pending) == 0 || (len(pending) == 1 && pending[v3.SecretType]) {
			if len(pending) == 0 {
				break
			}
			if grace == nil {
				grace = time.After(2 * time.Second)
			}
		}
		var resp *discovery.DiscoveryResponse
		select {
		case resp = <-msgs:
		case err := <-errs:
			return nil, fmt.Errorf("ADS stream for %s: %v (still waiting for %v)", p.ID, err, keys(pending))
		case <-grace:
			return res, nil
		case <-timeout:
			return nil, fmt.Errorf("ADS for %s: no answer in 30s for %v", p.ID, keys(pending))
		}
		// ACK with the names we are subscribed to.
		if err := send(resp.TypeUrl, names[resp.TypeUrl], resp); err != nil {
			return nil, err
		}
		if !pending[resp.TypeUrl] {
			continue // a later push; the first answer is what we wait for
		}
		delete(pending, resp.TypeUrl)
		switch resp.TypeUrl {
		case v3.ClusterType:
			var eds []string
			secrets := map[string]bool{}
			for _, r := range resp.Resources {
				c := &cluster.Cluster{}
				if err := r.UnmarshalTo(c); err != nil {
					return nil, err
				}
				res.Clusters = append(res.Clusters, c)
				if c.GetType() == cluster.Cluster_EDS {
					eds = append(eds, c.Name)
				}
				adsSecrets(c, secrets)
			}
			if len(eds) > 0 {
				pending[v3.EndpointType] = true
				if err := send(v3.EndpointType, eds, nil); err != nil {
					return nil, err
				}
			}
			pending[v3.ListenerType] = true
			if err := send(v3.ListenerType, nil, nil); err != nil {
				return nil, err
			}
			res.Secrets = append(res.Secrets, keys(secrets)...)
		case v3.EndpointType:
			for _, r := range resp.Resources {
				e := &endpoint.ClusterLoadAssignment{}
				if err := r.UnmarshalTo(e); err != nil {
					return nil, err
				}
				res.Endpoints = append(res.Endpoints, e)
			}
		case v3.ListenerType:
			routes := map[string]bool{}
			secrets := map[string]bool{}
			for _, s := range res.Secrets {
				secrets[s] = true
			}
			for _, r := range resp.Resources {
				l := &listener.Listener{}
				if err := r.UnmarshalTo(l); err != nil {
					return nil, err
				}
				res.Listeners = append(res.Listeners, l)
				for _, n := range rdsNames(l) {
					routes[n] = true
				}
				adsSecrets(l, secrets)
			}
			res.Routes = keys(routes)
			res.Secrets = keys(secrets)
			if len(res.Routes) > 0 {
				pending[v3.RouteType] = true
				if err := send(v3.RouteType, res.Routes, nil); err != nil {
					return nil, err
				}
			}
			if len(res.Secrets) > 0 {
				pending[v3.SecretType] = true
				if err := send(v3.SecretType, res.Secrets, nil); err != nil {
					return nil, err
				}
			}
		}
	}
	return res, nil
}

// rdsNames lists the route configurations a listener's HTTP connection managers fetch by RDS.
func rdsNames(l *listener.Listener) []string {
	var out []string
	chains := append([]*listener.FilterChain{}, l.FilterChains...)
	if l.DefaultFilterChain != nil {
		chains = append(chains, l.DefaultFilterChain)
	}
	for _, fc := range chains {
		for _, flt := range fc.Filters {
			if flt.Name != wellknown.HTTPConnectionManager {
				continue
			}
			h := &hcm.HttpConnectionManager{}
			if flt.GetTypedConfig().UnmarshalTo(h) == nil && h.GetRds() != nil {
				out = append(out, h.GetRds().GetRouteConfigName())
			}
		}
	}
	return out
}

// adsSecrets collects the names of SDS secrets fetched over ADS ({"name": ..., "sdsConfig":
// {"ads": {}}}), e.g. kubernetes://NAME for a gateway's credentialName; "default" and
// "ROOTCA" come from the agent (cluster sds-grpc), not from istiod.
func adsSecrets(m proto.Message, into map[string]bool) {
	b, err := protomarshal.Marshal(m)
	if err != nil {
		return
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if sc, ok := x["sdsConfig"].(map[string]any); ok {
				if _, ads := sc["ads"]; ads {
					if n, ok := x["name"].(string); ok {
						into[n] = true
					}
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
}

// configDump asks istiod's debug handler for the proxy's Envoy admin config dump.
func configDump(f *xds.FakeDiscoveryServer, proxyID string, includeEDS bool) ([]byte, error) {
	q := url.Values{"proxyID": {proxyID}, "pretty": {""}}
	if includeEDS {
		q.Set("include_eds", "")
	}
	req := httptest.NewRequest("GET", "/debug/config_dump?"+q.Encode(), nil)
	rr := httptest.NewRecorder()
	f.DiscoveryDebug.ServeHTTP(rr, req)
	if rr.Code != 200 {
		return nil, fmt.Errorf("config_dump for %s: HTTP %d: %s", proxyID, rr.Code, rr.Body.String())
	}
	return rr.Body.Bytes(), nil
}

// connectedProxy returns the *model.Proxy istiod built for a connected proxy.
func connectedProxy(f *xds.FakeDiscoveryServer, id string) *model.Proxy {
	for _, c := range f.Discovery.Clients() {
		if p := c.Proxy(); p != nil && p.ID == id {
			return p
		}
	}
	return nil
}

// waitDisconnected waits until istiod dropped the proxy's connection, so that the debug
// handler's proxyID lookup (a substring match, debug.go getProxyConnection) never sees two.
func waitDisconnected(f *xds.FakeDiscoveryServer, id string) {
	for i := 0; i < 500 && connectedProxy(f, id) != nil; i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
