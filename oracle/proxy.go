package oracle

// Which pods are proxies, and the xDS node each one sends: the node ID the agent builds
// (pkg/adsc/adsc.go nodeID: TYPE~IP~POD.NS~NS.svc.cluster.local) and the node metadata the
// sidecar injector's environment and the agent set (manifests/.../injection-template.yaml,
// pkg/bootstrap/config.go GetNodeMetaData; keys are the JSON tags of pkg/model/proxy.go).

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"

	meshconfig "istio.io/api/mesh/v1alpha1"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pkg/config/mesh"
	pm "istio.io/istio/pkg/model"
	"istio.io/istio/pkg/util/protomarshal"
)

// DefaultProxyVersion is the ISTIO_VERSION the oracle's proxies announce. The pin is master at
// VERSION 1.31 (1.31-dev). istiod only compares major.minor.patch
// (pilot/pkg/model/context.go ParseIstioVersion) and every gate in this commit is <= 1.30
// (pilot/pkg/networking/core/tracing.go, listener.go), so "1.31.0" and a 1.31-dev build get
// the same config. Never leave it empty: SetupProxy would default it to 1.23.0
// (pilot/pkg/networking/core/fake.go), adsc to 65536.65536.65536.
const DefaultProxyVersion = "1.31.0"

// ClusterID is what the injector sets as ISTIO_META_CLUSTER_ID by default.
const ClusterID = "Kubernetes"

// ProxySpec is one proxy of the input.
type ProxySpec struct {
	Pod    *corev1.Pod
	Type   model.NodeType // sidecar or router
	ID     string         // POD.NS
	NodeID string
	IP     string
	Meta   *pm.BootstrapNodeMetadata
}

// Identity is the SPIFFE identity of the proxy's service account.
func (p *ProxySpec) Identity(trustDomain string) string {
	return fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", trustDomain, p.Pod.Namespace, p.Meta.ServiceAccount)
}

// MetaStruct is the node metadata as Envoy sends it (the agent writes the same JSON into the
// bootstrap's node.metadata).
func (p *ProxySpec) MetaStruct() (*structpb.Struct, error) {
	b, err := json.Marshal(p.Meta)
	if err != nil {
		return nil, err
	}
	s := &structpb.Struct{}
	return s, protomarshal.Unmarshal(b, s)
}

const (
	annoSidecarStatus    = "sidecar.istio.io/status"
	annoInjectTemplates  = "inject.istio.io/templates"
	annoInterceptionMode = "sidecar.istio.io/interceptionMode"
	annoProxyConfig      = "proxy.istio.io/config"
	labelGatewayName     = "gateway.networking.k8s.io/gateway-name"
	labelGatewayManaged  = "gateway.istio.io/managed"
	meshController       = "istio.io-mesh-controller" // a waypoint's gateway.istio.io/managed (files/waypoint.yaml)
	labelWorkloadName    = "service.istio.io/workload-name"
	proxyContainer       = "istio-proxy"
)

// isZtunnel says whether a pod is a ztunnel (the ztunnel chart's DaemonSet: label app=ztunnel, container
// istio-proxy; manifests/charts/ztunnel/templates/daemonset.yaml). ztunnel is not an Envoy: it takes
// istiod's workload xDS (see ztunnel.go), not CDS/LDS.
func isZtunnel(pod *corev1.Pod) bool {
	if pod.Labels["app"] != "ztunnel" {
		return false
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == proxyContainer {
			return true
		}
	}
	return false
}

// proxyType says whether a pod runs an Istio (Envoy) proxy, and which kind.
func proxyType(pod *corev1.Pod, gatewaySelectors []map[string]string) (model.NodeType, bool) {
	if isZtunnel(pod) {
		return "", false
	}
	var proxy *corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == proxyContainer {
			proxy = &pod.Spec.Containers[i]
		}
	}
	// A waypoint: the pod istiod's deployment controller makes for a Gateway of class istio-waypoint
	// (files/waypoint.yaml: label gateway.istio.io/managed=istio.io-mesh-controller, args "proxy waypoint";
	// pilot-agent then connects with node type "waypoint").
	if proxy != nil && pod.Labels[labelGatewayName] != "" {
		if pod.Labels[labelGatewayManaged] == meshController {
			return model.Waypoint, true
		}
		for _, a := range proxy.Args {
			if a == "waypoint" {
				return model.Waypoint, true
			}
		}
	}
	_, injected := pod.Annotations[annoSidecarStatus]
	if injected && !strings.Contains(pod.Annotations[annoInjectTemplates], "gateway") {
		return model.SidecarProxy, true
	}
	if proxy == nil && !injected {
		return "", false
	}
	// A gateway: Gateway API deployment, the usual istio=*gateway labels, `proxy router`
	// args, the gateway injection template, or selected by an Istio Gateway.
	if pod.Labels[labelGatewayName] != "" || strings.HasSuffix(pod.Labels["istio"], "gateway") ||
		injected {
		return model.Router, true
	}
	if proxy != nil {
		for _, a := range proxy.Args {
			if a == "router" {
				return model.Router, true
			}
		}
	}
	for _, sel := range gatewaySelectors {
		if selects(sel, pod.Labels) {
			return model.Router, true
		}
	}
	return model.SidecarProxy, true
}

func selects(sel, lbls map[string]string) bool {
	for k, v := range sel {
		if lbls[k] != v {
			return false
		}
	}
	return true
}

// Proxies lists every sidecar and gateway pod, sorted by ID. Proxy pods that cannot connect (no
// pod IP, a bad proxy config annotation) are left out; loadInputs warned about them.
func (in *Inputs) Proxies(version string) ([]*ProxySpec, error) {
	return in.proxies(version, false), nil
}

func (in *Inputs) proxies(version string, warn bool) []*ProxySpec {
	sels := in.gatewaySelectors()
	var out []*ProxySpec
	for _, pod := range in.Pods {
		t, ok := proxyType(pod, sels)
		if !ok {
			continue
		}
		p, err := in.newProxySpec(pod, t, version)
		if err != nil {
			if warn {
				in.warnf("proxy %s.%s left out: %v", pod.Name, pod.Namespace, err)
			}
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Ztunnels lists the ztunnel pods (with a pod IP), sorted by ID, as proxies of type ztunnel.
func (in *Inputs) Ztunnels(version string) []*ProxySpec {
	var out []*ProxySpec
	for _, pod := range in.Pods {
		if !isZtunnel(pod) {
			continue
		}
		if p, err := in.newProxySpec(pod, model.Ztunnel, version); err == nil {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Proxy finds one proxy by POD.NS (or POD, when the name is unique).
func (in *Inputs) Proxy(id, version string) (*ProxySpec, error) {
	all, err := in.Proxies(version)
	if err != nil {
		return nil, err
	}
	var found []*ProxySpec
	for _, p := range all {
		if p.ID == id || p.Pod.Name == id {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		var ids []string
		for _, p := range all {
			ids = append(ids, p.ID)
		}
		return nil, fmt.Errorf("no proxy %q in the input (proxies: %s)", id, strings.Join(ids, ", "))
	default:
		return nil, fmt.Errorf("%q is ambiguous: name it POD.NAMESPACE", id)
	}
}

func (in *Inputs) newProxySpec(pod *corev1.Pod, t model.NodeType, version string) (*ProxySpec, error) {
	if pod.Status.PodIP == "" {
		return nil, fmt.Errorf("no status.podIP")
	}
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if len(ips) == 0 {
		ips = []string{pod.Status.PodIP}
	}
	meta, err := nodeMetadata(pod, in.Mesh, version, ips)
	if err != nil {
		return nil, err
	}
	id := pod.Name + "." + pod.Namespace
	return &ProxySpec{
		Pod:    pod,
		Type:   t,
		ID:     id,
		NodeID: fmt.Sprintf("%s~%s~%s~%s.svc.cluster.local", t, ips[0], id, pod.Namespace),
		IP:     ips[0],
		Meta:   meta,
	}, nil
}

func nodeMetadata(pod *corev1.Pod, m *meshconfig.MeshConfig, version string, ips []string) (*pm.BootstrapNodeMetadata, error) {
	// PROXY_CONFIG: the mesh's defaultConfig with the pod's proxy.istio.io/config annotation
	// merged in, as the injector renders it.
	pc := proto.Clone(m.GetDefaultConfig()).(*meshconfig.ProxyConfig)
	if a := pod.Annotations[annoProxyConfig]; a != "" {
		merged, err := mesh.MergeProxyConfig(a, pc)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %v", annoProxyConfig, err)
		}
		pc = merged
	}
	meta := &pm.BootstrapNodeMetadata{}
	meta.IstioVersion = version
	meta.ClusterID = ClusterID
	meta.Namespace = pod.Namespace
	meta.InstanceName = pod.Name
	meta.ServiceAccount = pod.Spec.ServiceAccountName
	if meta.ServiceAccount == "" {
		meta.ServiceAccount = "default"
	}
	meta.InstanceIPs = ips
	meta.NodeName = pod.Spec.NodeName
	meta.MeshID = m.GetTrustDomain()
	meta.ProxyConfig = (*pm.NodeMetaProxyConfig)(pc)
	meta.InterceptionMode = pm.TrafficInterceptionMode(pc.GetInterceptionMode().String())
	if v := pod.Annotations[annoInterceptionMode]; v != "" {
		meta.InterceptionMode = pm.TrafficInterceptionMode(v)
	}
	meta.EnvoyStatusPort = int(pc.GetStatusPort())
	meta.EnvoyPrometheusPort = 15090
	// LABELS: the pod's labels without pod-template-hash (the agent drops it).
	meta.Labels = map[string]string{}
	for k, v := range pod.Labels {
		if k != "pod-template-hash" {
			meta.Labels[k] = v
		}
	}
	meta.Annotations = map[string]string{}
	for k, v := range pod.Annotations {
		meta.Annotations[k] = v
	}
	var apps []string
	for _, c := range pod.Spec.Containers {
		if c.Name == proxyContainer {
			continue
		}
		apps = append(apps, c.Name)
		for _, p := range c.Ports {
			meta.PodPorts = append(meta.PodPorts, pm.PodPort{Name: p.Name, ContainerPort: int(p.ContainerPort), Protocol: string(p.Protocol)})
		}
	}
	meta.AppContainers = strings.Join(apps, ",")
	name, owner := workloadName(pod)
	meta.WorkloadName = name
	meta.Owner = owner
	return meta, nil
}

// workloadName is the injector's DeploymentMeta name: the Deployment behind a ReplicaSet
// (pkg/kube/inject/webhook.go), else the owner, else the pod.
func workloadName(pod *corev1.Pod) (string, string) {
	if v := pod.Labels[labelWorkloadName]; v != "" {
		return v, ""
	}
	for _, ref := range pod.OwnerReferences {
		if ref.Controller == nil || !*ref.Controller {
			continue
		}
		if ref.Kind == "ReplicaSet" {
			if h := pod.Labels["pod-template-hash"]; h != "" && strings.HasSuffix(ref.Name, "-"+h) {
				dep := strings.TrimSuffix(ref.Name, "-"+h)
				return dep, fmt.Sprintf("kubernetes://apis/apps/v1/namespaces/%s/deployments/%s", pod.Namespace, dep)
			}
		}
		return ref.Name, fmt.Sprintf("kubernetes://apis/%s/namespaces/%s/%ss/%s", ref.APIVersion, pod.Namespace, strings.ToLower(ref.Kind), ref.Name)
	}
	return pod.Name, ""
}
