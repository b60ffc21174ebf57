package oracle

// Input loading: a directory of Kubernetes + Istio YAML becomes what NewFakeDiscoveryServer takes
// (pilot/test/xds/fake.go): typed Kubernetes objects for the fake kube client (core kinds and
// Gateway API, which the gateway controller reads from the kube client) and config.Config for
// the Istio config store. What a real cluster would add on its own is filled in here: ClusterIPs
// for Services that have none and EndpointSlices from Pods (there is no EndpointSlice controller
// in the harness).

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	sigyaml "sigs.k8s.io/yaml"

	meshconfig "istio.io/api/mesh/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"
	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/pkg/features"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/config/schema/gvk"
	"istio.io/istio/pkg/config/schema/resource"
	kubelib "istio.io/istio/pkg/kube"
)

// configTime is the creation timestamp given to Istio configs that have none. Istio orders
// configs by creation time (oldest wins), so a fixed value keeps the output reproducible; ties
// are broken by namespace/name as in istiod.
var configTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// domainSuffix is the cluster's DNS domain (the harness uses cluster.local, pilot/test/xds/fake.go).
const domainSuffix = "cluster.local"

// istioGroups are the API groups whose objects go to the Istio config store. Everything else
// (core, apps, discovery.k8s.io, gateway.networking.k8s.io, ...) goes to the fake kube client.
var istioGroups = map[string]bool{
	"networking.istio.io": true, "security.istio.io": true,
	"telemetry.istio.io": true, "extensions.istio.io": true,
}

type objKey struct {
	Group, Kind, Namespace, Name string
}

func (k objKey) String() string {
	g := k.Group
	if g == "" {
		g = "core"
	}
	return fmt.Sprintf("%s/%s %s/%s", g, k.Kind, k.Namespace, k.Name)
}

// object is one input object: either a Kubernetes object or an Istio config.
type object struct {
	key       objKey
	kube      runtime.Object
	cfg       *config.Config
	hash      string // of the normalised object, to diff two loads (serve's reload)
	generated bool   // made by the oracle (EndpointSlice)
}

// Inputs is a loaded directory.
type Inputs struct {
	Objects    []object
	Mesh       *meshconfig.MeshConfig
	MeshSource string
	Pods       []*corev1.Pod
	Services   []*corev1.Service
	Warnings   []string
	Generated  map[string]int // what the oracle added: endpointslices, cluster_ips
	Ignored    map[string]int // kinds istiod does not read (apps/Deployment, CRDs, ...), by count
	Converted  map[string]int // objects converted to the API version istiod watches, by kind and versions
}

// pilotReads says whether istiod's Kubernetes side reads a kind; other kinds (Deployments,
// CRDs, webhooks, ...) are left out of the fake client.
func pilotReads(group, kind string) bool {
	switch group {
	case "":
		switch kind {
		case "Namespace", "Pod", "Service", "Node", "Secret", "ConfigMap", "ServiceAccount", "Endpoints":
			return true
		}
		return false
	case "discovery.k8s.io", "networking.k8s.io", "gateway.networking.k8s.io", "gateway.networking.x-k8s.io",
		"inference.networking.k8s.io", "inference.networking.x-k8s.io":
		return true
	}
	return false
}

func (in *Inputs) warnf(format string, args ...any) {
	in.Warnings = append(in.Warnings, fmt.Sprintf(format, args...))
}

func (in *Inputs) KubeObjects() []runtime.Object {
	var out []runtime.Object
	for _, o := range in.Objects {
		if o.kube != nil {
			out = append(out, o.kube)
		}
	}
	return out
}

func (in *Inputs) Configs() []config.Config {
	var out []config.Config
	for _, o := range in.Objects {
		if o.cfg != nil {
			out = append(out, *o.cfg)
		}
	}
	return out
}

type loadOptions struct {
	MeshConfigFile string
	NoValidate     bool // keep Istio configs that fail Istio's validation (the webhook would refuse them)
}

// loadInputs reads every *.yaml, *.yml and *.json file under path (or the file itself).
func loadInputs(path string, opts loadOptions) (*Inputs, error) {
	files, err := inputFiles(path)
	if err != nil {
		return nil, err
	}
	in := &Inputs{Generated: map[string]int{}, Ignored: map[string]int{}, Converted: map[string]int{}}
	seen := map[objKey]string{}
	var meshFromConfigMap string
	for _, f := range files {
		docs, err := readDocs(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f, err)
		}
		for i, doc := range docs {
			where := fmt.Sprintf("%s#%d", f, i+1)
			objs, err := in.decode(doc, where, opts)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", where, err)
			}
			for _, o := range objs {
				if prev, dup := seen[o.key]; dup {
					in.warnf("%s: %s repeats %s; the later one wins", where, o.key, prev)
					in.remove(o.key)
				}
				seen[o.key] = where
				in.Objects = append(in.Objects, o)
				if cm, ok := o.kube.(*corev1.ConfigMap); ok && cm.Namespace == "istio-system" && cm.Name == "istio" {
					meshFromConfigMap = cm.Data["mesh"]
				}
			}
		}
	}
	for _, o := range in.Objects {
		applyAPIDefaults(o.kube)
		switch v := o.kube.(type) {
		case *corev1.Pod:
			in.Pods = append(in.Pods, v)
		case *corev1.Service:
			in.Services = append(in.Services, v)
		}
	}

	switch {
	case opts.MeshConfigFile != "":
		text, err := readMeshConfigFile(opts.MeshConfigFile)
		if err != nil {
			return nil, err
		}
		in.MeshSource = opts.MeshConfigFile
		meshFromConfigMap = text
	case meshFromConfigMap != "":
		in.MeshSource = "ConfigMap istio-system/istio"
	default:
		in.MeshSource = "defaults"
	}
	// istiod applies the ConfigMap's mesh on top of its built-in defaults (pkg/config/mesh/mesh.go).
	m, err := mesh.ApplyMeshConfigDefaults(meshFromConfigMap)
	if err != nil {
		return nil, fmt.Errorf("mesh config (%s): %v", in.MeshSource, err)
	}
	in.Mesh = m

	in.allocateClusterIPs()
	in.generateNodes()
	in.generateEndpointSlices()
	in.proxies(DefaultProxyVersion, true) // warn once about proxy pods that cannot connect
	return in, nil
}

func (in *Inputs) remove(k objKey) {
	out := in.Objects[:0]
	for _, o := range in.Objects {
		if o.key != k {
			out = append(out, o)
		}
	}
	in.Objects = out
}

func inputFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, p)
			}
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// readDocs splits a YAML stream (or a JSON document) into documents, as JSON.
func readDocs(file string) ([][]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	r := kubeyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		d, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(d)) == 0 {
			continue
		}
		j, err := sigyaml.YAMLToJSON(d)
		if err != nil {
			return nil, err
		}
		if string(j) == "null" {
			continue
		}
		docs = append(docs, j)
	}
	return docs, nil
}

type header struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Items      []json.RawMessage `json:"items"`
}

func (in *Inputs) decode(doc []byte, where string, opts loadOptions) ([]object, error) {
	var h header
	if err := json.Unmarshal(doc, &h); err != nil {
		return nil, err
	}
	if h.Kind == "" || h.APIVersion == "" {
		in.warnf("%s: skipped, no apiVersion/kind", where)
		return nil, nil
	}
	if strings.HasSuffix(h.Kind, "List") && h.Items != nil {
		var out []object
		for i, item := range h.Items {
			objs, err := in.decode(item, fmt.Sprintf("%s.items[%d]", where, i), opts)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
		return out, nil
	}
	gv, err := schema.ParseGroupVersion(h.APIVersion)
	if err != nil {
		return nil, err
	}
	if istioGroups[gv.Group] {
		cfg, err := in.decodeIstio(doc, where, opts)
		if err != nil || cfg == nil {
			return nil, err
		}
		o := object{
			key:  objKey{gv.Group, h.Kind, cfg.Namespace, cfg.Name},
			cfg:  cfg,
			hash: hashBytes(doc),
		}
		// istiod's ambient index reads these kinds through its own informers on the API server
		// (pilot/pkg/serviceregistry/ambient/ambientindex.go New), not from the config store: with
		// ambient on, they also go to the fake kube client (its Istio clientset).
		if features.EnableAmbient && ambientKinds[h.Kind] {
			if o.kube, err = in.decodeKube(doc, gv, h, where); err != nil {
				return nil, err
			}
			if o.kube != nil && o.kube.(metav1.Object).GetNamespace() == "" {
				o.kube.(metav1.Object).SetNamespace(cfg.Namespace)
			}
		}
		return []object{o}, nil
	}
	if !pilotReads(gv.Group, h.Kind) {
		in.Ignored[gv.Group+"/"+h.Kind]++
		return nil, nil
	}
	obj, err := in.decodeKube(doc, gv, h, where)
	if err != nil || obj == nil {
		return nil, err
	}
	return []object{{
		key:  objKey{gv.Group, h.Kind, h.Metadata.Namespace, h.Metadata.Name},
		kube: obj,
		hash: hashBytes(doc),
	}}, nil
}

// ambientKinds are the Istio kinds istiod's ambient index watches on the API server.
var ambientKinds = map[string]bool{
	"AuthorizationPolicy": true, "PeerAuthentication": true, "ServiceEntry": true, "WorkloadEntry": true,
}

// decodeKube decodes a document as a typed Kubernetes object for the fake kube client (nil with a
// warning when it cannot be decoded).
func (in *Inputs) decodeKube(doc []byte, gv schema.GroupVersion, h header, where string) (runtime.Object, error) {
	// The fake API server stores objects under the version they were created with, while a real
	// one serves every version: convert to the version istiod watches (its schema), e.g. a
	// gateway.networking.k8s.io/v1alpha2 TCPRoute to v1 (pkg/config/schema/gvk).
	if sch, ok := collections.All.FindByGroupKind(config.GroupVersionKind{Group: gv.Group, Kind: h.Kind}); ok && sch.Version() != gv.Version {
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
		m["apiVersion"] = schema.GroupVersion{Group: gv.Group, Version: sch.Version()}.String()
		var err error
		if doc, err = json.Marshal(m); err != nil {
			return nil, err
		}
		in.Converted[fmt.Sprintf("%s %s -> %s", h.Kind, gv.Version, sch.Version())]++
	}
	obj, _, err := kubelib.IstioCodec.UniversalDeserializer().Decode(doc, nil, nil)
	if err != nil {
		in.warnf("%s: skipped %s %s (%v)", where, h.APIVersion, h.Kind, firstLine(err.Error()))
		return nil, nil
	}
	return obj, nil
}

// decodeIstio mirrors crd.ParseInputs (pilot/pkg/config/kube/crd/conversion.go) but reports a
// config that fails Istio's validation as a warning instead of failing the whole load: the
// validating webhook would have refused it, so by default it is left out (opts.NoValidate keeps it).
func (in *Inputs) decodeIstio(doc []byte, where string, opts loadOptions) (*config.Config, error) {
	var obj crd.IstioKind
	if err := json.Unmarshal(doc, &obj); err != nil {
		return nil, err
	}
	g := obj.GroupVersionKind()
	s, ok := collections.PilotGatewayAPI().FindByGroupVersionAliasesKind(resource.FromKubernetesGVK(&g))
	if !ok {
		in.warnf("%s: skipped %s %s (not an Istio kind istiod reads)", where, obj.APIVersion, obj.Kind)
		return nil, nil
	}
	// The domain is what short hosts ("reviews") resolve against, as istiod's kube config store
	// sets it (config.Meta.Domain; pilot/pkg/model ResolveShortnameToFQDN).
	cfg, err := crd.ConvertObject(s, &obj, domainSuffix)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", obj.Kind, obj.Name, err)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if cfg.CreationTimestamp.IsZero() {
		cfg.CreationTimestamp = configTime
	}
	warn, verr := s.ValidateConfig(*cfg)
	if warn != nil {
		in.warnf("%s: %s %s/%s: validation warning: %v", where, obj.Kind, cfg.Namespace, cfg.Name, warn)
	}
	if verr != nil {
		if !opts.NoValidate {
			in.warnf("%s: %s %s/%s left out: Istio's validation refuses it (%v)", where, obj.Kind, cfg.Namespace, cfg.Name, verr)
			return nil, nil
		}
		in.warnf("%s: %s %s/%s is invalid (%v) but kept (--no-validate)", where, obj.Kind, cfg.Namespace, cfg.Name, verr)
	}
	return cfg, nil
}

// readMeshConfigFile accepts either mesh config YAML or a ConfigMap holding it under data.mesh.
func readMeshConfigFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var cm struct {
		Kind string            `json:"kind"`
		Data map[string]string `json:"data"`
	}
	if err := sigyaml.Unmarshal(data, &cm); err == nil && cm.Kind == "ConfigMap" {
		return cm.Data["mesh"], nil
	}
	return string(data), nil
}

// applyAPIDefaults sets the defaults the API server (and its admission) would have written, which
// istiod relies on: e.g. a named targetPort only resolves when the Service port's protocol equals
// the container port's (pilot/pkg/serviceregistry/kube/controller/util.go FindPort), and both
// default to TCP in a real cluster.
func applyAPIDefaults(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Service:
		if o.Spec.Type == "" {
			o.Spec.Type = corev1.ServiceTypeClusterIP
		}
		if o.Spec.SessionAffinity == "" {
			o.Spec.SessionAffinity = corev1.ServiceAffinityNone
		}
		for i := range o.Spec.Ports {
			p := &o.Spec.Ports[i]
			if p.Protocol == "" {
				p.Protocol = corev1.ProtocolTCP
			}
			if p.TargetPort.IntVal == 0 && p.TargetPort.StrVal == "" && o.Spec.Type != corev1.ServiceTypeExternalName {
				p.TargetPort = intstr.FromInt32(p.Port)
			}
		}
	case *corev1.Pod:
		if o.Spec.ServiceAccountName == "" {
			o.Spec.ServiceAccountName = "default" // ServiceAccount admission
		}
		for _, cs := range [][]corev1.Container{o.Spec.Containers, o.Spec.InitContainers} {
			for i := range cs {
				for j := range cs[i].Ports {
					if cs[i].Ports[j].Protocol == "" {
						cs[i].Ports[j].Protocol = corev1.ProtocolTCP
					}
				}
			}
		}
		if len(o.Status.PodIPs) == 0 && o.Status.PodIP != "" {
			o.Status.PodIPs = []corev1.PodIP{{IP: o.Status.PodIP}}
		}
	case *corev1.Namespace:
		if o.Labels == nil {
			o.Labels = map[string]string{}
		}
		o.Labels["kubernetes.io/metadata.name"] = o.Name
	case *discoveryv1.EndpointSlice:
		for i := range o.Ports {
			if o.Ports[i].Protocol == nil {
				o.Ports[i].Protocol = ptrTo(corev1.ProtocolTCP)
			}
		}
	case *gatewayv1.HTTPRoute:
		defaultHTTPRoute(o)
	case *gatewayv1.GRPCRoute:
		defaultGRPCRoute(o)
	case *gatewayv1.Gateway:
		defaultGateway(o)
	}
}

// The Gateway API CRDs' schema defaults (the +kubebuilder:default markers of sigs.k8s.io/gateway-api
// apis/v1 at v1.6.0, which the API server applies on every write and istiod relies on: without a
// match path, createURIMatch dereferences nil). Only the fields istiod reads are defaulted.

func defaultParentRefs(refs []gatewayv1.ParentReference) {
	for i := range refs {
		if refs[i].Group == nil {
			refs[i].Group = ptrTo(gatewayv1.Group(gatewayv1.GroupName))
		}
		if refs[i].Kind == nil {
			refs[i].Kind = ptrTo(gatewayv1.Kind("Gateway"))
		}
	}
}

func defaultBackendObjectRef(ref *gatewayv1.BackendObjectReference) {
	if ref.Group == nil {
		ref.Group = ptrTo(gatewayv1.Group(""))
	}
	if ref.Kind == nil {
		ref.Kind = ptrTo(gatewayv1.Kind("Service"))
	}
}

func defaultBackendRef(ref *gatewayv1.BackendRef) {
	defaultBackendObjectRef(&ref.BackendObjectReference)
	if ref.Weight == nil {
		ref.Weight = ptrTo(int32(1))
	}
}

func defaultHTTPFilters(filters []gatewayv1.HTTPRouteFilter) {
	for i := range filters {
		f := &filters[i]
		if f.RequestRedirect != nil && f.RequestRedirect.StatusCode == nil {
			f.RequestRedirect.StatusCode = ptrTo(302)
		}
		if f.RequestMirror != nil {
			defaultBackendObjectRef(&f.RequestMirror.BackendRef)
			if f.RequestMirror.Fraction != nil && f.RequestMirror.Fraction.Denominator == nil {
				f.RequestMirror.Fraction.Denominator = ptrTo(int32(100))
			}
		}
		if f.CORS != nil && f.CORS.MaxAge == 0 {
			f.CORS.MaxAge = 5
		}
	}
}

func defaultHTTPRoute(o *gatewayv1.HTTPRoute) {
	defaultParentRefs(o.Spec.ParentRefs)
	if o.Spec.Rules == nil {
		o.Spec.Rules = []gatewayv1.HTTPRouteRule{{}}
	}
	for i := range o.Spec.Rules {
		r := &o.Spec.Rules[i]
		if r.Matches == nil {
			r.Matches = []gatewayv1.HTTPRouteMatch{{}}
		}
		for j := range r.Matches {
			m := &r.Matches[j]
			if m.Path == nil {
				m.Path = &gatewayv1.HTTPPathMatch{}
			}
			if m.Path.Type == nil {
				m.Path.Type = ptrTo(gatewayv1.PathMatchPathPrefix)
			}
			if m.Path.Value == nil {
				m.Path.Value = ptrTo("/")
			}
			for k := range m.Headers {
				if m.Headers[k].Type == nil {
					m.Headers[k].Type = ptrTo(gatewayv1.HeaderMatchExact)
				}
			}
			for k := range m.QueryParams {
				if m.QueryParams[k].Type == nil {
					m.QueryParams[k].Type = ptrTo(gatewayv1.QueryParamMatchExact)
				}
			}
		}
		defaultHTTPFilters(r.Filters)
		for j := range r.BackendRefs {
			defaultBackendRef(&r.BackendRefs[j].BackendRef)
			defaultHTTPFilters(r.BackendRefs[j].Filters)
		}
	}
}

func defaultGRPCRoute(o *gatewayv1.GRPCRoute) {
	defaultParentRefs(o.Spec.ParentRefs)
	for i := range o.Spec.Rules {
		r := &o.Spec.Rules[i]
		for j := range r.Matches {
			m := &r.Matches[j]
			if m.Method != nil && m.Method.Type == nil {
				m.Method.Type = ptrTo(gatewayv1.GRPCMethodMatchExact)
			}
			for k := range m.Headers {
				if m.Headers[k].Type == nil {
					m.Headers[k].Type = ptrTo(gatewayv1.GRPCHeaderMatchExact)
				}
			}
		}
		for j := range r.Filters {
			if f := r.Filters[j].RequestMirror; f != nil {
				defaultBackendObjectRef(&f.BackendRef)
				if f.Fraction != nil && f.Fraction.Denominator == nil {
					f.Fraction.Denominator = ptrTo(int32(100))
				}
			}
		}
		for j := range r.BackendRefs {
			defaultBackendRef(&r.BackendRefs[j].BackendRef)
		}
	}
}

func defaultGateway(o *gatewayv1.Gateway) {
	for i := range o.Spec.Addresses {
		if o.Spec.Addresses[i].Type == nil {
			o.Spec.Addresses[i].Type = ptrTo(gatewayv1.IPAddressType)
		}
	}
	for i := range o.Spec.Listeners {
		l := &o.Spec.Listeners[i]
		if l.AllowedRoutes == nil {
			l.AllowedRoutes = &gatewayv1.AllowedRoutes{}
		}
		if l.AllowedRoutes.Namespaces == nil {
			l.AllowedRoutes.Namespaces = &gatewayv1.RouteNamespaces{}
		}
		if l.AllowedRoutes.Namespaces.From == nil {
			l.AllowedRoutes.Namespaces.From = ptrTo(gatewayv1.NamespacesFromSame)
		}
		for k := range l.AllowedRoutes.Kinds {
			if l.AllowedRoutes.Kinds[k].Group == nil {
				l.AllowedRoutes.Kinds[k].Group = ptrTo(gatewayv1.Group(gatewayv1.GroupName))
			}
		}
		if l.TLS != nil && l.TLS.Mode == nil {
			l.TLS.Mode = ptrTo(gatewayv1.TLSModeTerminate)
		}
	}
}

// allocateClusterIPs gives every non-headless Service without spec.clusterIP an address from
// 10.96.0.0/12, as the API server would. Deterministic: derived from namespace/name.
func (in *Inputs) allocateClusterIPs() {
	used := map[string]bool{}
	for _, s := range in.Services {
		used[s.Spec.ClusterIP] = true
	}
	for _, s := range in.Services {
		if s.Spec.ClusterIP != "" || s.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		sum := sha256.Sum256([]byte(s.Namespace + "/" + s.Name))
		n := binary.BigEndian.Uint32(sum[:4])
		for {
			// 10.96.0.0/12: 20 bits of host part; skip .0 and .255 host bytes for readability
			ip := fmt.Sprintf("10.%d.%d.%d", 96+(n>>16)%16, (n>>8)&0xff, 1+n%254)
			if !used[ip] {
				used[ip] = true
				s.Spec.ClusterIP = ip
				s.Spec.ClusterIPs = []string{ip}
				break
			}
			n++
		}
		in.Generated["cluster_ips"]++
	}
}

// generateNodes adds a bare Node for every spec.nodeName no Node object describes (istiod reads
// a pod's node for its locality; a real cluster always has the node).
func (in *Inputs) generateNodes() {
	have := map[string]bool{}
	for _, o := range in.Objects {
		if n, ok := o.kube.(*corev1.Node); ok {
			have[n.Name] = true
		}
	}
	for _, p := range in.Pods {
		name := p.Spec.NodeName
		if name == "" || have[name] {
			continue
		}
		have[name] = true
		n := &corev1.Node{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"}, ObjectMeta: metav1.ObjectMeta{Name: name}}
		in.Objects = append(in.Objects, object{key: objKey{"", "Node", "", name}, kube: n, hash: hashJSON(n), generated: true})
		in.Generated["nodes"]++
	}
}

// generateEndpointSlices does the EndpointSlice controller's job when the input has no
// EndpointSlices: one slice per Service and port mapping, with the Running pods (with an IP)
// that the Service selects; named targetPorts are resolved per pod, as Kubernetes does.
func (in *Inputs) generateEndpointSlices() {
	for _, o := range in.Objects {
		if _, ok := o.kube.(*discoveryv1.EndpointSlice); ok {
			return
		}
	}
	for _, svc := range in.Services {
		for _, es := range endpointSlicesFor(svc, in.Pods) {
			in.Objects = append(in.Objects, object{
				key:       objKey{"discovery.k8s.io", "EndpointSlice", es.Namespace, es.Name},
				kube:      es,
				hash:      hashJSON(es),
				generated: true,
			})
			in.Generated["endpointslices"]++
		}
	}
}

func endpointSlicesFor(svc *corev1.Service, pods []*corev1.Pod) []*discoveryv1.EndpointSlice {
	if len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	type group struct {
		ports     []discoveryv1.EndpointPort
		endpoints []discoveryv1.Endpoint
	}
	groups := map[string]*group{}
	var order []string
	for _, pod := range pods {
		if pod.Namespace != svc.Namespace || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		if pod.Status.PodIP == "" || pod.DeletionTimestamp != nil ||
			pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		var ports []discoveryv1.EndpointPort
		for _, sp := range svc.Spec.Ports {
			num, ok := resolveTargetPort(sp, pod)
			if !ok {
				continue
			}
			proto := sp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			ports = append(ports, discoveryv1.EndpointPort{
				Name: ptrTo(sp.Name), Port: ptrTo(num), Protocol: ptrTo(proto), AppProtocol: sp.AppProtocol,
			})
		}
		sig := hashJSON(ports)
		g := groups[sig]
		if g == nil {
			g = &group{ports: ports}
			groups[sig] = g
			order = append(order, sig)
		}
		ready := podReady(pod)
		ep := discoveryv1.Endpoint{
			Addresses: []string{pod.Status.PodIP},
			Conditions: discoveryv1.EndpointConditions{
				Ready: ptrTo(ready), Serving: ptrTo(ready), Terminating: ptrTo(false),
			},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		}
		if pod.Spec.NodeName != "" {
			ep.NodeName = ptrTo(pod.Spec.NodeName)
		}
		g.endpoints = append(g.endpoints, ep)
	}
	var out []*discoveryv1.EndpointSlice
	for _, sig := range order {
		g := groups[sig]
		addrType := discoveryv1.AddressTypeIPv4
		if strings.Contains(g.endpoints[0].Addresses[0], ":") {
			addrType = discoveryv1.AddressTypeIPv6
		}
		lbls := map[string]string{}
		for k, v := range svc.Labels {
			lbls[k] = v
		}
		lbls[discoveryv1.LabelServiceName] = svc.Name
		lbls[discoveryv1.LabelManagedBy] = "endpointslice-controller.k8s.io"
		out = append(out, &discoveryv1.EndpointSlice{
			TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
			ObjectMeta: metav1.ObjectMeta{
				Name:      svc.Name + "-" + sig[:5],
				Namespace: svc.Namespace,
				Labels:    lbls,
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID, Controller: ptrTo(true),
				}},
			},
			AddressType: addrType,
			Endpoints:   g.endpoints,
			Ports:       g.ports,
		})
	}
	return out
}

func resolveTargetPort(sp corev1.ServicePort, pod *corev1.Pod) (int32, bool) {
	tp := sp.TargetPort
	if tp.IntVal == 0 && tp.StrVal == "" {
		return sp.Port, true
	}
	if tp.StrVal == "" {
		return tp.IntVal, true
	}
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == tp.StrVal {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

func podReady(pod *corev1.Pod) bool {
	if pod.Status.Phase != "" && pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return true // Running and no conditions given: treat as ready
}

// gatewaySelectors returns the selectors of the Istio Gateway configs (networking.istio.io).
func (in *Inputs) gatewaySelectors() []map[string]string {
	var out []map[string]string
	for _, o := range in.Objects {
		if o.cfg != nil && o.cfg.GroupVersionKind == gvk.Gateway {
			if gw, ok := o.cfg.Spec.(*networking.Gateway); ok && len(gw.Selector) > 0 {
				out = append(out, gw.Selector)
			}
		}
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

func hashBytes(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func hashJSON(v any) string {
	b, _ := json.Marshal(v)
	return hashBytes(b)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
