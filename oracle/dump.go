package oracle

// mesh-oracle dump DIR --out OUT: for every proxy, the Envoy admin config dump istiod would
// push (OUT/POD.NS.json, the format `istioctl proxy-config ... -f` reads) and the endpoints in
// the format of Envoy's /clusters?format=json (OUT/POD.NS.clusters.json, what
// `istioctl proxy-config endpoint -f` reads).

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	admin "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"

	"istio.io/istio/pkg/util/protomarshal"
)

type dumpSummary struct {
	File     string   `json:"file"`
	Clusters string   `json:"clusters_file"`
	Type     string   `json:"type"`
	NodeID   string   `json:"node_id"`
	Counts   counts   `json:"counts"`
	Secrets  []string `json:"ads_secrets,omitempty"`
}

type counts struct {
	Clusters  int `json:"clusters"`
	Listeners int `json:"listeners"`
	Routes    int `json:"routes"`
	Endpoints int `json:"endpoints"`
}

func runDump(t *testing.T, c *command) error {
	dir, err := c.arg(0, "DIR")
	if err != nil {
		return err
	}
	outDir := c.str("out", "")
	if outDir == "" {
		return fmt.Errorf("dump needs --out DIR")
	}
	in, err := loadInputs(dir, c.loadOptions())
	if err != nil {
		return err
	}
	version := c.str("proxy-version", DefaultProxyVersion)
	var proxies []*ProxySpec
	if ids := c.list("proxy"); len(ids) > 0 {
		for _, id := range ids {
			p, err := in.Proxy(id, version)
			if err != nil {
				return err
			}
			proxies = append(proxies, p)
		}
	} else if proxies, err = in.Proxies(version); err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	f := newServer(t, in, serverOptions{})
	summary := map[string]dumpSummary{}
	for _, p := range proxies {
		s, err := dumpProxy(f, in, p, outDir, !c.has("no-eds"))
		if err != nil {
			return err
		}
		summary[p.ID] = s
	}
	return writeJSON(map[string]any{
		"istio":         istioPin(),
		"proxy_version": version,
		"mesh_config":   in.MeshSource,
		"generated":     in.Generated,
		"ignored_kinds": in.Ignored,
		"converted":     in.Converted,
		"warnings":      nonNil(in.Warnings),
		"proxies":       summary,
	})
}

func dumpProxy(f fakeServer, in *Inputs, p *ProxySpec, outDir string, includeEDS bool) (dumpSummary, error) {
	res, closeFn, err := connectProxy(f, p, in.Mesh.GetTrustDomain())
	if err != nil {
		return dumpSummary{}, err
	}
	defer closeFn()
	dump, err := configDump(f, p.ID, includeEDS)
	if err != nil {
		return dumpSummary{}, err
	}
	file := filepath.Join(outDir, p.ID+".json")
	if err := os.WriteFile(file, dump, 0o644); err != nil {
		return dumpSummary{}, err
	}
	clustersFile := filepath.Join(outDir, p.ID+".clusters.json")
	cj, err := protomarshal.ToJSONWithIndent(adminClusters(res), "  ")
	if err != nil {
		return dumpSummary{}, err
	}
	if err := os.WriteFile(clustersFile, []byte(cj), 0o644); err != nil {
		return dumpSummary{}, err
	}
	return dumpSummary{
		File:     file,
		Clusters: clustersFile,
		Type:     string(p.Type),
		NodeID:   p.NodeID,
		Counts:   counts{len(res.Clusters), len(res.Listeners), len(res.Routes), len(res.Endpoints)},
		Secrets:  res.Secrets,
	}, nil
}

// adminClusters renders the received clusters and endpoints as Envoy's /clusters?format=json
// (admin.Clusters): every host healthy per EDS, no outlier ejections (nothing ran).
func adminClusters(res *adsResult) *admin.Clusters {
	eds := map[string]*endpoint.ClusterLoadAssignment{}
	for _, e := range res.Endpoints {
		eds[e.ClusterName] = e
	}
	out := &admin.Clusters{}
	for _, c := range res.Clusters {
		cs := &admin.ClusterStatus{Name: c.Name, AddedViaApi: true}
		la := c.GetLoadAssignment()
		if c.GetType() == cluster.Cluster_EDS {
			la = eds[c.Name]
		}
		for _, loc := range la.GetEndpoints() {
			for _, lbe := range loc.GetLbEndpoints() {
				health := lbe.GetHealthStatus()
				if health == core.HealthStatus_UNKNOWN {
					health = core.HealthStatus_HEALTHY
				}
				w := lbe.GetLoadBalancingWeight().GetValue()
				if w == 0 {
					w = 1
				}
				cs.HostStatuses = append(cs.HostStatuses, &admin.HostStatus{
					Address:      lbe.GetEndpoint().GetAddress(),
					HealthStatus: &admin.HostHealthStatus{EdsHealthStatus: health},
					Weight:       w,
					Locality:     loc.GetLocality(),
				})
			}
		}
		out.ClusterStatuses = append(out.ClusterStatuses, cs)
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
