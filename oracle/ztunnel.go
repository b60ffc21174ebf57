package oracle

// What istiod serves a ztunnel: with ambient on (PILOT_ENABLE_AMBIENT=true, `--ambient`), a ztunnel
// pod of the input connects to the in-process istiod over delta ADS the way ztunnel does
// (istio/ztunnel src/xds/client.rs: node type "ztunnel", wildcard subscriptions to
// type.googleapis.com/istio.workload.Address and type.googleapis.com/istio.security.Authorization,
// every response ACKed) and keeps the resources istiod pushes, with removals applied. serve's
// GET /ztunnel?proxy=POD.NS answers them as protobuf JSON (istio.workload.Address,
// istio.security.Authorization, pkg/workloadapi); the sandbox renders ztunnel's /config_dump from
// them. The subscription starts on the first request and stays open, so later answers carry
// istiod's pushes (after a reload) like a running ztunnel's state.

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/anypb"

	"istio.io/istio/pilot/pkg/features"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pkg/util/protomarshal"
	_ "istio.io/istio/pkg/workloadapi"          // istio.workload.Address in the proto registry
	_ "istio.io/istio/pkg/workloadapi/security" // istio.security.Authorization
)

// ztunnelTypes are the delta xDS types ztunnel subscribes to.
var ztunnelTypes = []string{v3.AddressType, v3.WorkloadAuthorizationType}

type ztunnelClient struct {
	proxy  *ProxySpec
	cancel func()

	mu        sync.Mutex
	resources map[string]map[string]*anypb.Any // type URL -> resource name -> resource
	responses map[string]int                   // responses received per type URL
	err       error                            // the stream ended
	ready     chan struct{}                    // closed once every type got its first response
}

// startZtunnel opens the delta ADS stream as the ztunnel and subscribes.
func startZtunnel(ads string, p *ProxySpec, trustDomain string) (*ztunnelClient, error) {
	target := ads
	if !strings.HasPrefix(target, "unix://") {
		target = "passthrough:///" + target
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), identityHeader, p.Identity(trustDomain)))
	z := &ztunnelClient{
		proxy: p, resources: map[string]map[string]*anypb.Any{}, responses: map[string]int{},
		ready: make(chan struct{}),
		cancel: func() {
			cancel()
			_ = conn.Close()
		},
	}
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		z.cancel()
		return nil, err
	}
	meta, err := p.MetaStruct()
	if err != nil {
		z.cancel()
		return nil, err
	}
	node := &core.Node{Id: p.NodeID, Metadata: meta}
	for i, typ := range ztunnelTypes {
		req := &discovery.DeltaDiscoveryRequest{TypeUrl: typ}
		if i == 0 {
			req.Node = node
		}
		if err := stream.Send(req); err != nil {
			z.cancel()
			return nil, err
		}
	}
	go z.receive(stream)
	return z, nil
}

func (z *ztunnelClient) receive(stream discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesClient) {
	for {
		resp, err := stream.Recv()
		if err != nil {
			z.mu.Lock()
			z.err = err
			z.mu.Unlock()
			return
		}
		z.mu.Lock()
		m := z.resources[resp.TypeUrl]
		if m == nil {
			m = map[string]*anypb.Any{}
			z.resources[resp.TypeUrl] = m
		}
		for _, r := range resp.Resources {
			m[r.Name] = r.Resource
		}
		for _, name := range resp.RemovedResources {
			delete(m, name)
		}
		z.responses[resp.TypeUrl]++
		all := true
		for _, typ := range ztunnelTypes {
			all = all && z.responses[typ] > 0
		}
		if all {
			select {
			case <-z.ready:
			default:
				close(z.ready)
			}
		}
		z.mu.Unlock()
		// ACK, as ztunnel does
		if err := stream.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: resp.TypeUrl, ResponseNonce: resp.Nonce}); err != nil {
			z.mu.Lock()
			z.err = err
			z.mu.Unlock()
			return
		}
	}
}

func (z *ztunnelClient) failed() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.err
}

// snapshot is what the ztunnel holds now, as protobuf JSON, sorted by resource name.
func (z *ztunnelClient) snapshot() (map[string]any, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	out := map[string]any{
		"proxy": z.proxy.ID, "node_id": z.proxy.NodeID, "node": z.proxy.Pod.Spec.NodeName,
		"responses": map[string]int{"address": z.responses[v3.AddressType], "authorization": z.responses[v3.WorkloadAuthorizationType]},
	}
	for key, typ := range map[string]string{"addresses": v3.AddressType, "authorizations": v3.WorkloadAuthorizationType} {
		m := z.resources[typ]
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		list := make([]map[string]any, 0, len(names))
		for _, n := range names {
			msg, err := m[n].UnmarshalNew()
			if err != nil {
				return nil, fmt.Errorf("%s %s: %v", typ, n, err)
			}
			b, err := protomarshal.Marshal(msg)
			if err != nil {
				return nil, err
			}
			list = append(list, map[string]any{"name": n, "resource": json.RawMessage(b)})
		}
		out[key] = list
	}
	return out, nil
}

// ztunnel returns the running subscription of a ztunnel pod (POD.NS or POD), starting it (or
// restarting a failed one) and waiting for istiod's first answers.
func (st *serveState) ztunnel(id string) (*ztunnelClient, error) {
	if !features.EnableAmbient {
		return nil, fmt.Errorf("ambient is off: run serve with --ambient (PILOT_ENABLE_AMBIENT=true)")
	}
	st.mu.Lock()
	var spec *ProxySpec
	var ids []string
	for _, p := range st.in.Ztunnels(st.version) {
		ids = append(ids, p.ID)
		if p.ID == id || p.Pod.Name == id {
			spec = p
		}
	}
	td := st.in.Mesh.GetTrustDomain()
	if spec == nil {
		st.mu.Unlock()
		return nil, fmt.Errorf("no ztunnel pod %q in the input (ztunnel pods: %s)", id, strings.Join(ids, ", "))
	}
	if st.ztunnels == nil {
		st.ztunnels = map[string]*ztunnelClient{}
	}
	z := st.ztunnels[spec.ID]
	if z == nil || z.failed() != nil {
		if z != nil {
			z.cancel()
		}
		var err error
		if z, err = startZtunnel(st.ads, spec, td); err != nil {
			st.mu.Unlock()
			return nil, err
		}
		st.ztunnels[spec.ID] = z
	}
	st.mu.Unlock()
	select {
	case <-z.ready:
		return z, nil
	case <-time.After(20 * time.Second):
		if err := z.failed(); err != nil {
			return nil, fmt.Errorf("ztunnel %s: %v", spec.ID, err)
		}
		return nil, fmt.Errorf("ztunnel %s: no answer from istiod for %v in 20s", spec.ID, ztunnelTypes)
	}
}

func (st *serveState) closeZtunnels() {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, z := range st.ztunnels {
		z.cancel()
	}
	st.ztunnels = nil
}
