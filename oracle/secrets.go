package oracle

// The workload certificates a sidecar's agent would serve on its SDS socket: istiod's clusters
// and listeners name the secrets "default" (the workload's key and SPIFFE certificate) and
// "ROOTCA" (the mesh root) on cluster sds-grpc (pkg/model/authentication.go
// ConstructSdsSecretConfig). In serve mode the oracle answers them from a test CA made at start.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	v3 "istio.io/istio/pilot/pkg/xds/v3"
)

const (
	sdsDefault = "default"
	sdsRoot    = "ROOTCA"
)

// testCA is an in-memory CA for the mesh's trust domain.
type testCA struct {
	trustDomain string
	key         *ecdsa.PrivateKey
	cert        *x509.Certificate
	certPEM     []byte
}

func newTestCA(trustDomain string) (*testCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{trustDomain}, CommonName: "mesh-oracle test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &testCA{trustDomain, key, cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

var serial atomic.Int64

// issue makes a workload certificate for a SPIFFE ID, like Istio's CA: the ID as the only URI
// SAN, client and server auth, 24h.
func (ca *testCA) issue(spiffeID string) (certPEM, keyPEM []byte, err error) {
	u, err := url.Parse(spiffeID)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1) + 1),
		Subject:      pkix.Name{Organization: []string{ca.trustDomain}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{u},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// sdsServer answers StreamSecrets for "default" and "ROOTCA"; the identity comes from the
// node metadata the agent would know (NAMESPACE, SERVICE_ACCOUNT).
type sdsServer struct {
	secretv3.UnimplementedSecretDiscoveryServiceServer
	ca *testCA
}

func (s *sdsServer) identity(node *core.Node) (string, error) {
	f := node.GetMetadata().GetFields()
	ns, sa := f["NAMESPACE"].GetStringValue(), f["SERVICE_ACCOUNT"].GetStringValue()
	if ns == "" || sa == "" {
		return "", fmt.Errorf("node %q has no NAMESPACE/SERVICE_ACCOUNT metadata", node.GetId())
	}
	return fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", s.ca.trustDomain, ns, sa), nil
}

func (s *sdsServer) secret(name string, node *core.Node) (*anypb.Any, error) {
	var sec *tls.Secret
	switch name {
	case sdsRoot:
		sec = &tls.Secret{Name: name, Type: &tls.Secret_ValidationContext{ValidationContext: &tls.CertificateValidationContext{
			TrustedCa: &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: s.ca.certPEM}},
		}}}
	case sdsDefault:
		id, err := s.identity(node)
		if err != nil {
			return nil, err
		}
		cert, key, err := s.ca.issue(id)
		if err != nil {
			return nil, err
		}
		sec = &tls.Secret{Name: name, Type: &tls.Secret_TlsCertificate{TlsCertificate: &tls.TlsCertificate{
			CertificateChain: &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: append(cert, s.ca.certPEM...)}},
			PrivateKey:       &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: key}},
		}}}
	default:
		return nil, fmt.Errorf("unknown secret %q (the oracle serves %q and %q)", name, sdsDefault, sdsRoot)
	}
	return anypb.New(sec)
}

func (s *sdsServer) StreamSecrets(stream secretv3.SecretDiscoveryService_StreamSecretsServer) error {
	var node *core.Node
	var sent []string
	version := 0
	for {
		req, err := stream.Recv()
		if err != nil {
			return err
		}
		if req.Node != nil {
			node = req.Node
		}
		if req.ErrorDetail != nil {
			fmt.Fprintf(os.Stderr, "mesh-oracle: SDS NACK from %s: %s\n", node.GetId(), req.ErrorDetail.GetMessage())
			continue
		}
		if req.ResponseNonce != "" && sameStrings(req.ResourceNames, sent) {
			continue // ACK
		}
		resp := &discovery.DiscoveryResponse{TypeUrl: v3.SecretType}
		for _, name := range req.ResourceNames {
			a, err := s.secret(name, node)
			if err != nil {
				fmt.Fprintf(os.Stderr, "mesh-oracle: SDS %s: %v\n", node.GetId(), err)
				continue
			}
			resp.Resources = append(resp.Resources, a)
		}
		version++
		resp.VersionInfo = strconv.Itoa(version)
		resp.Nonce = resp.VersionInfo
		sent = append([]string{}, req.ResourceNames...)
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

func (s *sdsServer) FetchSecrets(_ context.Context, req *discovery.DiscoveryRequest) (*discovery.DiscoveryResponse, error) {
	resp := &discovery.DiscoveryResponse{TypeUrl: v3.SecretType, VersionInfo: "1"}
	for _, name := range req.ResourceNames {
		a, err := s.secret(name, req.Node)
		if err != nil {
			return nil, status.Error(codes.NotFound, err.Error())
		}
		resp.Resources = append(resp.Resources, a)
	}
	return resp, nil
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
