"""The types of every Istio kind's spec, from the CRD schemas at the pinned Istio
(manifests/charts/base/files/crd-all.gen.yaml of istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad), compacted
by decode.compact_schema: t = s (string), duration, i (integer), u (unsigned integer), n (number), b (boolean),
enum (v: names), intstr, o (object, p: properties), m (map, v: values), a (array, i: items), any (anything).
Generated; a test regenerates it from the module cache and compares."""
from __future__ import annotations

from typing import Any

SCHEMA: dict[str, Any] = {
 "AuthorizationPolicy": {
  "p": {
   "action": {
    "t": "enum",
    "v": [
     "ALLOW",
     "DENY",
     "AUDIT",
     "CUSTOM"
    ]
   },
   "provider": {
    "p": {
     "name": {
      "t": "s"
     }
    },
    "t": "o"
   },
   "rules": {
    "i": {
     "p": {
      "from": {
       "i": {
        "p": {
         "source": {
          "p": {
           "ipBlocks": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "namespaces": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "notIpBlocks": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "notNamespaces": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "notPrincipals": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "notRemoteIpBlocks": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "notRequestPrincipals": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "notServiceAccounts": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "notTrustDomains": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "principals": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "remoteIpBlocks": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "requestPrincipals": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "serviceAccounts": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "trustDomains": {
            "i": {
             "t": "s"
            },
            "t": "a"
           }
          },
          "t": "o"
         }
        },
        "t": "o"
       },
       "t": "a"
      },
      "to": {
       "i": {
        "p": {
         "operation": {
          "p": {
           "hosts": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "methods": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "notHosts": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "notMethods": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "notPaths": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "notPorts": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "paths": {
            "i": {
             "t": "s"
            },
            "t": "a"
           },
           "ports": {
            "i": {
             "t": "s"
            },
            "t": "a"
           }
          },
          "t": "o"
         }
        },
        "t": "o"
       },
       "t": "a"
      },
      "when": {
       "i": {
        "p": {
         "key": {
          "t": "s"
         },
         "notValues": {
          "i": {
           "t": "s"
          },
          "t": "a"
         },
         "values": {
          "i": {
           "t": "s"
          },
          "t": "a"
         }
        },
        "t": "o"
       },
       "t": "a"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "selector": {
    "p": {
     "matchLabels": {
      "t": "m",
      "v": {
       "t": "s"
      }
     }
    },
    "t": "o"
   },
   "targetRef": {
    "p": {
     "group": {
      "t": "s"
     },
     "kind": {
      "t": "s"
     },
     "name": {
      "t": "s"
     },
     "namespace": {
      "t": "s"
     }
    },
    "t": "o"
   },
   "targetRefs": {
    "i": {
     "p": {
      "group": {
       "t": "s"
      },
      "kind": {
       "t": "s"
      },
      "name": {
       "t": "s"
      },
      "namespace": {
       "t": "s"
      }
     },
     "t": "o"
    },
    "t": "a"
   }
  },
  "t": "o"
 },
 "DestinationRule": {
  "p": {
   "exportTo": {
    "i": {
     "t": "s"
    },
    "t": "a"
   },
   "host": {
    "t": "s"
   },
   "subsets": {
    "i": {
     "p": {
      "labels": {
       "t": "m",
       "v": {
        "t": "s"
       }
      },
      "name": {
       "t": "s"
      },
      "trafficPolicy": {
       "p": {
        "connectionPool": {
         "p": {
          "http": {
           "p": {
            "h2UpgradePolicy": {
             "t": "enum",
             "v": [
              "DEFAULT",
              "DO_NOT_UPGRADE",
              "UPGRADE"
             ]
            },
            "http1MaxPendingRequests": {
             "t": "i"
            },
            "http2KeepAlive": {
             "p": {
              "interval": {
               "t": "duration"
              },
              "timeout": {
               "t": "duration"
              }
             },
             "t": "o"
            },
            "http2MaxRequests": {
             "t": "i"
            },
            "idleTimeout": {
             "t": "duration"
            },
            "maxConcurrentStreams": {
             "t": "i"
            },
            "maxRequestsPerConnection": {
             "t": "i"
            },
            "maxRetries": {
             "t": "i"
            },
            "useClientProtocol": {
             "t": "b"
            }
           },
           "t": "o"
          },
          "tcp": {
           "p": {
            "connectTimeout": {
             "t": "duration"
            },
            "idleTimeout": {
             "t": "s"
            },
            "maxConnectionDuration": {
             "t": "duration"
            },
            "maxConnections": {
             "t": "i"
            },
            "tcpKeepalive": {
             "p": {
              "interval": {
               "t": "duration"
              },
              "probes": {
               "t": "u"
              },
              "time": {
               "t": "duration"
              }
             },
             "t": "o"
            }
           },
           "t": "o"
          }
         },
         "t": "o"
        },
        "loadBalancer": {
         "p": {
          "consistentHash": {
           "p": {
            "httpCookie": {
             "p": {
              "attributes": {
               "i": {
                "p": {
                 "name": {
                  "t": "s"
                 },
                 "value": {
                  "t": "s"
                 }
                },
                "t": "o"
               },
               "t": "a"
              },
              "name": {
               "t": "s"
              },
              "path": {
               "t": "s"
              },
              "ttl": {
               "t": "s"
              }
             },
             "t": "o"
            },
            "httpHeaderName": {
             "t": "s"
            },
            "httpQueryParameterName": {
             "t": "s"
            },
            "maglev": {
             "p": {
              "tableSize": {
               "t": "u"
              }
             },
             "t": "o"
            },
            "minimumRingSize": {
             "t": "u"
            },
            "ringHash": {
             "p": {
              "minimumRingSize": {
               "t": "u"
              }
             },
             "t": "o"
            },
            "useSourceIp": {
             "t": "b"
            }
           },
           "t": "o"
          },
          "localityLbSetting": {
           "p": {
            "distribute": {
             "i": {
              "p": {
               "from": {
                "t": "s"
               },
               "to": {
                "t": "m",
                "v": {
                 "t": "u"
                }
               }
              },
              "t": "o"
             },
             "t": "a"
            },
            "enabled": {
             "t": "b"
            },
            "failover": {
             "i": {
              "p": {
               "from": {
                "t": "s"
               },
               "to": {
                "t": "s"
               }
              },
              "t": "o"
             },
             "t": "a"
            },
            "failoverPriority": {
             "i": {
              "t": "s"
             },
             "t": "a"
            }
           },
           "t": "o"
          },
          "simple": {
           "t": "enum",
           "v": [
            "UNSPECIFIED",
            "LEAST_CONN",
            "RANDOM",
            "PASSTHROUGH",
            "ROUND_ROBIN",
            "LEAST_REQUEST"
           ]
          },
          "warmup": {
           "p": {
            "aggression": {
             "t": "n"
            },
            "duration": {
             "t": "duration"
            },
            "minimumPercent": {
             "t": "n"
            }
           },
           "t": "o"
          },
          "warmupDurationSecs": {
           "t": "duration"
          },
          "zoneAwareLbSetting": {
           "p": {
            "enabled": {
             "t": "b"
            },
            "failover": {
             "i": {
              "p": {
               "from": {
                "t": "s"
               },
               "to": {
                "t": "s"
               }
              },
              "t": "o"
             },
             "t": "a"
            },
            "failoverPriority": {
             "i": {
              "t": "s"
             },
             "t": "a"
            },
            "minClusterSize": {
             "t": "u"
            }
           },
           "t": "o"
          }
         },
         "t": "o"
        },
        "outlierDetection": {
         "p": {
          "baseEjectionTime": {
           "t": "duration"
          },
          "consecutive5xxErrors": {
           "t": "u"
          },
          "consecutiveErrors": {
           "t": "i"
          },
          "consecutiveGatewayErrors": {
           "t": "u"
          },
          "consecutiveLocalOriginFailures": {
           "t": "u"
          },
          "interval": {
           "t": "duration"
          },
          "maxEjectionPercent": {
           "t": "i"
          },
          "minHealthPercent": {
           "t": "i"
          },
          "outlierDetectionHttpErrorCodes": {
           "i": {
            "t": "u"
           },
           "t": "a"
          },
          "splitExternalLocalOriginErrors": {
           "t": "b"
          }
         },
         "t": "o"
        },
        "portLevelSettings": {
         "i": {
          "p": {
           "connectionPool": {
            "p": {
             "http": {
              "p": {
               "h2UpgradePolicy": {
                "t": "enum",
                "v": [
                 "DEFAULT",
                 "DO_NOT_UPGRADE",
                 "UPGRADE"
                ]
               },
               "http1MaxPendingRequests": {
                "t": "i"
               },
               "http2KeepAlive": {
                "p": {
                 "interval": {
                  "t": "duration"
                 },
                 "timeout": {
                  "t": "duration"
                 }
                },
                "t": "o"
               },
               "http2MaxRequests": {
                "t": "i"
               },
               "idleTimeout": {
                "t": "duration"
               },
               "maxConcurrentStreams": {
                "t": "i"
               },
               "maxRequestsPerConnection": {
                "t": "i"
               },
               "maxRetries": {
                "t": "i"
               },
               "useClientProtocol": {
                "t": "b"
               }
              },
              "t": "o"
             },
             "tcp": {
              "p": {
               "connectTimeout": {
                "t": "duration"
               },
               "idleTimeout": {
                "t": "s"
               },
               "maxConnectionDuration": {
                "t": "duration"
               },
               "maxConnections": {
                "t": "i"
               },
               "tcpKeepalive": {
                "p": {
                 "interval": {
                  "t": "duration"
                 },
                 "probes": {
                  "t": "u"
                 },
                 "time": {
                  "t": "duration"
                 }
                },
                "t": "o"
               }
              },
              "t": "o"
             }
            },
            "t": "o"
           },
           "loadBalancer": {
            "p": {
             "consistentHash": {
              "p": {
               "httpCookie": {
                "p": {
                 "attributes": {
                  "i": {
                   "p": {
                    "name": {
                     "t": "s"
                    },
                    "value": {
                     "t": "s"
                    }
                   },
                   "t": "o"
                  },
                  "t": "a"
                 },
                 "name": {
                  "t": "s"
                 },
                 "path": {
                  "t": "s"
                 },
                 "ttl": {
                  "t": "s"
                 }
                },
                "t": "o"
               },
               "httpHeaderName": {
                "t": "s"
               },
               "httpQueryParameterName": {
                "t": "s"
               },
               "maglev": {
                "p": {
                 "tableSize": {
                  "t": "u"
                 }
                },
                "t": "o"
               },
               "minimumRingSize": {
                "t": "u"
               },
               "ringHash": {
                "p": {
                 "minimumRingSize": {
                  "t": "u"
                 }
                },
                "t": "o"
               },
               "useSourceIp": {
                "t": "b"
               }
              },
              "t": "o"
             },
             "localityLbSetting": {
              "p": {
               "distribute": {
                "i": {
                 "p": {
                  "from": {
                   "t": "s"
                  },
                  "to": {
                   "t": "m",
                   "v": {
                    "t": "u"
                   }
                  }
                 },
                 "t": "o"
                },
                "t": "a"
               },
               "enabled": {
                "t": "b"
               },
               "failover": {
                "i": {
                 "p": {
                  "from": {
                   "t": "s"
                  },
                  "to": {
                   "t": "s"
                  }
                 },
                 "t": "o"
                },
                "t": "a"
               },
               "failoverPriority": {
                "i": {
                 "t": "s"
                },
                "t": "a"
               }
              },
              "t": "o"
             },
             "simple": {
              "t": "enum",
              "v": [
               "UNSPECIFIED",
               "LEAST_CONN",
               "RANDOM",
               "PASSTHROUGH",
               "ROUND_ROBIN",
               "LEAST_REQUEST"
              ]
             },
             "warmup": {
              "p": {
               "aggression": {
                "t": "n"
               },
               "duration": {
                "t": "duration"
               },
               "minimumPercent": {
                "t": "n"
               }
              },
              "t": "o"
             },
             "warmupDurationSecs": {
              "t": "duration"
             },
             "zoneAwareLbSetting": {
              "p": {
               "enabled": {
                "t": "b"
               },
               "failover": {
                "i": {
                 "p": {
                  "from": {
                   "t": "s"
                  },
                  "to": {
                   "t": "s"
                  }
                 },
                 "t": "o"
                },
                "t": "a"
               },
               "failoverPriority": {
                "i": {
                 "t": "s"
                },
                "t": "a"
               },
               "minClusterSize": {
                "t": "u"
               }
              },
              "t": "o"
             }
            },
            "t": "o"
           },
           "outlierDetection": {
            "p": {
             "baseEjectionTime": {
              "t": "duration"
             },
             "consecutive5xxErrors": {
              "t": "u"
             },
             "consecutiveErrors": {
              "t": "i"
             },
             "consecutiveGatewayErrors": {
              "t": "u"
             },
             "consecutiveLocalOriginFailures": {
              "t": "u"
             },
             "interval": {
              "t": "duration"
             },
             "maxEjectionPercent": {
              "t": "i"
             },
             "minHealthPercent": {
              "t": "i"
             },
             "outlierDetectionHttpErrorCodes": {
              "i": {
               "t": "u"
              },
              "t": "a"
             },
             "splitExternalLocalOriginErrors": {
              "t": "b"
             }
            },
            "t": "o"
           },
           "port": {
            "p": {
             "number": {
              "t": "u"
             }
            },
            "t": "o"
           },
           "tls": {
            "p": {
             "caCertificates": {
              "t": "s"
             },
             "caCrl": {
              "t": "s"
             },
             "clientCertificate": {
              "t": "s"
             },
             "credentialName": {
              "t": "s"
             },
             "insecureSkipVerify": {
              "t": "b"
             },
             "mode": {
              "t": "enum",
              "v": [
               "DISABLE",
               "SIMPLE",
               "MUTUAL",
               "ISTIO_MUTUAL"
              ]
             },
             "privateKey": {
              "t": "s"
             },
             "sni": {
              "t": "s"
             },
             "subjectAltNames": {
              "i": {
               "t": "s"
              },
              "t": "a"
             }
            },
            "t": "o"
           }
          },
          "t": "o"
         },
         "t": "a"
        },
        "proxyProtocol": {
         "p": {
          "version": {
           "t": "enum",
           "v": [
            "V1",
            "V2"
           ]
          }
         },
         "t": "o"
        },
        "retryBudget": {
         "p": {
          "budgetInterval": {
           "t": "s"
          },
          "minRetryConcurrency": {
           "t": "u"
          },
          "percent": {
           "t": "n"
          }
         },
         "t": "o"
        },
        "tls": {
         "p": {
          "caCertificates": {
           "t": "s"
          },
          "caCrl": {
           "t": "s"
          },
          "clientCertificate": {
           "t": "s"
          },
          "credentialName": {
           "t": "s"
          },
          "insecureSkipVerify": {
           "t": "b"
          },
          "mode": {
           "t": "enum",
           "v": [
            "DISABLE",
            "SIMPLE",
            "MUTUAL",
            "ISTIO_MUTUAL"
           ]
          },
          "privateKey": {
           "t": "s"
          },
          "sni": {
           "t": "s"
          },
          "subjectAltNames": {
           "i": {
            "t": "s"
           },
           "t": "a"
          }
         },
         "t": "o"
        },
        "tunnel": {
         "p": {
          "protocol": {
           "t": "s"
          },
          "targetHost": {
           "t": "s"
          },
          "targetPort": {
           "t": "u"
          }
         },
         "t": "o"
        }
       },
       "t": "o"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "trafficPolicy": {
    "p": {
     "connectionPool": {
      "p": {
       "http": {
        "p": {
         "h2UpgradePolicy": {
          "t": "enum",
          "v": [
           "DEFAULT",
           "DO_NOT_UPGRADE",
           "UPGRADE"
          ]
         },
         "http1MaxPendingRequests": {
          "t": "i"
         },
         "http2KeepAlive": {
          "p": {
           "interval": {
            "t": "duration"
           },
           "timeout": {
            "t": "duration"
           }
          },
          "t": "o"
         },
         "http2MaxRequests": {
          "t": "i"
         },
         "idleTimeout": {
          "t": "duration"
         },
         "maxConcurrentStreams": {
          "t": "i"
         },
         "maxRequestsPerConnection": {
          "t": "i"
         },
         "maxRetries": {
          "t": "i"
         },
         "useClientProtocol": {
          "t": "b"
         }
        },
        "t": "o"
       },
       "tcp": {
        "p": {
         "connectTimeout": {
          "t": "duration"
         },
         "idleTimeout": {
          "t": "s"
         },
         "maxConnectionDuration": {
          "t": "duration"
         },
         "maxConnections": {
          "t": "i"
         },
         "tcpKeepalive": {
          "p": {
           "interval": {
            "t": "duration"
           },
           "probes": {
            "t": "u"
           },
           "time": {
            "t": "duration"
           }
          },
          "t": "o"
         }
        },
        "t": "o"
       }
      },
      "t": "o"
     },
     "loadBalancer": {
      "p": {
       "consistentHash": {
        "p": {
         "httpCookie": {
          "p": {
           "attributes": {
            "i": {
             "p": {
              "name": {
               "t": "s"
              },
              "value": {
               "t": "s"
              }
             },
             "t": "o"
            },
            "t": "a"
           },
           "name": {
            "t": "s"
           },
           "path": {
            "t": "s"
           },
           "ttl": {
            "t": "s"
           }
          },
          "t": "o"
         },
         "httpHeaderName": {
          "t": "s"
         },
         "httpQueryParameterName": {
          "t": "s"
         },
         "maglev": {
          "p": {
           "tableSize": {
            "t": "u"
           }
          },
          "t": "o"
         },
         "minimumRingSize": {
          "t": "u"
         },
         "ringHash": {
          "p": {
           "minimumRingSize": {
            "t": "u"
           }
          },
          "t": "o"
         },
         "useSourceIp": {
          "t": "b"
         }
        },
        "t": "o"
       },
       "localityLbSetting": {
        "p": {
         "distribute": {
          "i": {
           "p": {
            "from": {
             "t": "s"
            },
            "to": {
             "t": "m",
             "v": {
              "t": "u"
             }
            }
           },
           "t": "o"
          },
          "t": "a"
         },
         "enabled": {
          "t": "b"
         },
         "failover": {
          "i": {
           "p": {
            "from": {
             "t": "s"
            },
            "to": {
             "t": "s"
            }
           },
           "t": "o"
          },
          "t": "a"
         },
         "failoverPriority": {
          "i": {
           "t": "s"
          },
          "t": "a"
         }
        },
        "t": "o"
       },
       "simple": {
        "t": "enum",
        "v": [
         "UNSPECIFIED",
         "LEAST_CONN",
         "RANDOM",
         "PASSTHROUGH",
         "ROUND_ROBIN",
         "LEAST_REQUEST"
        ]
       },
       "warmup": {
        "p": {
         "aggression": {
          "t": "n"
         },
         "duration": {
          "t": "duration"
         },
         "minimumPercent": {
          "t": "n"
         }
        },
        "t": "o"
       },
       "warmupDurationSecs": {
        "t": "duration"
       },
       "zoneAwareLbSetting": {
        "p": {
         "enabled": {
          "t": "b"
         },
         "failover": {
          "i": {
           "p": {
            "from": {
             "t": "s"
            },
            "to": {
             "t": "s"
            }
           },
           "t": "o"
          },
          "t": "a"
         },
         "failoverPriority": {
          "i": {
           "t": "s"
          },
          "t": "a"
         },
         "minClusterSize": {
          "t": "u"
         }
        },
        "t": "o"
       }
      },
      "t": "o"
     },
     "outlierDetection": {
      "p": {
       "baseEjectionTime": {
        "t": "duration"
       },
       "consecutive5xxErrors": {
        "t": "u"
       },
       "consecutiveErrors": {
        "t": "i"
       },
       "consecutiveGatewayErrors": {
        "t": "u"
       },
       "consecutiveLocalOriginFailures": {
        "t": "u"
       },
       "interval": {
        "t": "duration"
       },
       "maxEjectionPercent": {
        "t": "i"
       },
       "minHealthPercent": {
        "t": "i"
       },
       "outlierDetectionHttpErrorCodes": {
        "i": {
         "t": "u"
        },
        "t": "a"
       },
       "splitExternalLocalOriginErrors": {
        "t": "b"
       }
      },
      "t": "o"
     },
     "portLevelSettings": {
      "i": {
       "p": {
        "connectionPool": {
         "p": {
          "http": {
           "p": {
            "h2UpgradePolicy": {
             "t": "enum",
             "v": [
              "DEFAULT",
              "DO_NOT_UPGRADE",
              "UPGRADE"
             ]
            },
            "http1MaxPendingRequests": {
             "t": "i"
            },
            "http2KeepAlive": {
             "p": {
              "interval": {
               "t": "duration"
              },
              "timeout": {
               "t": "duration"
              }
             },
             "t": "o"
            },
            "http2MaxRequests": {
             "t": "i"
            },
            "idleTimeout": {
             "t": "duration"
            },
            "maxConcurrentStreams": {
             "t": "i"
            },
            "maxRequestsPerConnection": {
             "t": "i"
            },
            "maxRetries": {
             "t": "i"
            },
            "useClientProtocol": {
             "t": "b"
            }
           },
           "t": "o"
          },
          "tcp": {
           "p": {
            "connectTimeout": {
             "t": "duration"
            },
            "idleTimeout": {
             "t": "s"
            },
            "maxConnectionDuration": {
             "t": "duration"
            },
            "maxConnections": {
             "t": "i"
            },
            "tcpKeepalive": {
             "p": {
              "interval": {
               "t": "duration"
              },
              "probes": {
               "t": "u"
              },
              "time": {
               "t": "duration"
              }
             },
             "t": "o"
            }
           },
           "t": "o"
          }
         },
         "t": "o"
        },
        "loadBalancer": {
         "p": {
          "consistentHash": {
           "p": {
            "httpCookie": {
             "p": {
              "attributes": {
               "i": {
                "p": {
                 "name": {
                  "t": "s"
                 },
                 "value": {
                  "t": "s"
                 }
                },
                "t": "o"
               },
               "t": "a"
              },
              "name": {
               "t": "s"
              },
              "path": {
               "t": "s"
              },
              "ttl": {
               "t": "s"
              }
             },
             "t": "o"
            },
            "httpHeaderName": {
             "t": "s"
            },
            "httpQueryParameterName": {
             "t": "s"
            },
            "maglev": {
             "p": {
              "tableSize": {
               "t": "u"
              }
             },
             "t": "o"
            },
            "minimumRingSize": {
             "t": "u"
            },
            "ringHash": {
             "p": {
              "minimumRingSize": {
               "t": "u"
              }
             },
             "t": "o"
            },
            "useSourceIp": {
             "t": "b"
            }
           },
           "t": "o"
          },
          "localityLbSetting": {
           "p": {
            "distribute": {
             "i": {
              "p": {
               "from": {
                "t": "s"
               },
               "to": {
                "t": "m",
                "v": {
                 "t": "u"
                }
               }
              },
              "t": "o"
             },
             "t": "a"
            },
            "enabled": {
             "t": "b"
            },
            "failover": {
             "i": {
              "p": {
               "from": {
                "t": "s"
               },
               "to": {
                "t": "s"
               }
              },
              "t": "o"
             },
             "t": "a"
            },
            "failoverPriority": {
             "i": {
              "t": "s"
             },
             "t": "a"
            }
           },
           "t": "o"
          },
          "simple": {
           "t": "enum",
           "v": [
            "UNSPECIFIED",
            "LEAST_CONN",
            "RANDOM",
            "PASSTHROUGH",
            "ROUND_ROBIN",
            "LEAST_REQUEST"
           ]
          },
          "warmup": {
           "p": {
            "aggression": {
             "t": "n"
            },
            "duration": {
             "t": "duration"
            },
            "minimumPercent": {
             "t": "n"
            }
           },
           "t": "o"
          },
          "warmupDurationSecs": {
           "t": "duration"
          },
          "zoneAwareLbSetting": {
           "p": {
            "enabled": {
             "t": "b"
            },
            "failover": {
             "i": {
              "p": {
               "from": {
                "t": "s"
               },
               "to": {
                "t": "s"
               }
              },
              "t": "o"
             },
             "t": "a"
            },
            "failoverPriority": {
             "i": {
              "t": "s"
             },
             "t": "a"
            },
            "minClusterSize": {
             "t": "u"
            }
           },
           "t": "o"
          }
         },
         "t": "o"
        },
        "outlierDetection": {
         "p": {
          "baseEjectionTime": {
           "t": "duration"
          },
          "consecutive5xxErrors": {
           "t": "u"
          },
          "consecutiveErrors": {
           "t": "i"
          },
          "consecutiveGatewayErrors": {
           "t": "u"
          },
          "consecutiveLocalOriginFailures": {
           "t": "u"
          },
          "interval": {
           "t": "duration"
          },
          "maxEjectionPercent": {
           "t": "i"
          },
          "minHealthPercent": {
           "t": "i"
          },
          "outlierDetectionHttpErrorCodes": {
           "i": {
            "t": "u"
           },
           "t": "a"
          },
          "splitExternalLocalOriginErrors": {
           "t": "b"
          }
         },
         "t": "o"
        },
        "port": {
         "p": {
          "number": {
           "t": "u"
          }
         },
         "t": "o"
        },
        "tls": {
         "p": {
          "caCertificates": {
           "t": "s"
          },
          "caCrl": {
           "t": "s"
          },
          "clientCertificate": {
           "t": "s"
          },
          "credentialName": {
           "t": "s"
          },
          "insecureSkipVerify": {
           "t": "b"
          },
          "mode": {
           "t": "enum",
           "v": [
            "DISABLE",
            "SIMPLE",
            "MUTUAL",
            "ISTIO_MUTUAL"
           ]
          },
          "privateKey": {
           "t": "s"
          },
          "sni": {
           "t": "s"
          },
          "subjectAltNames": {
           "i": {
            "t": "s"
           },
           "t": "a"
          }
         },
         "t": "o"
        }
       },
       "t": "o"
      },
      "t": "a"
     },
     "proxyProtocol": {
      "p": {
       "version": {
        "t": "enum",
        "v": [
         "V1",
         "V2"
        ]
       }
      },
      "t": "o"
     },
     "retryBudget": {
      "p": {
       "budgetInterval": {
        "t": "s"
       },
       "minRetryConcurrency": {
        "t": "u"
       },
       "percent": {
        "t": "n"
       }
      },
      "t": "o"
     },
     "tls": {
      "p": {
       "caCertificates": {
        "t": "s"
       },
       "caCrl": {
        "t": "s"
       },
       "clientCertificate": {
        "t": "s"
       },
       "credentialName": {
        "t": "s"
       },
       "insecureSkipVerify": {
        "t": "b"
       },
       "mode": {
        "t": "enum",
        "v": [
         "DISABLE",
         "SIMPLE",
         "MUTUAL",
         "ISTIO_MUTUAL"
        ]
       },
       "privateKey": {
        "t": "s"
       },
       "sni": {
        "t": "s"
       },
       "subjectAltNames": {
        "i": {
         "t": "s"
        },
        "t": "a"
       }
      },
      "t": "o"
     },
     "tunnel": {
      "p": {
       "protocol": {
        "t": "s"
       },
       "targetHost": {
        "t": "s"
       },
       "targetPort": {
        "t": "u"
       }
      },
      "t": "o"
     }
    },
    "t": "o"
   },
   "workloadSelector": {
    "p": {
     "matchLabels": {
      "t": "m",
      "v": {
       "t": "s"
      }
     }
    },
    "t": "o"
   }
  },
  "t": "o"
 },
 "EnvoyFilter": {
  "p": {
   "configPatches": {
    "i": {
     "p": {
      "applyTo": {
       "t": "enum",
       "v": [
        "INVALID",
        "LISTENER",
        "FILTER_CHAIN",
        "NETWORK_FILTER",
        "HTTP_FILTER",
        "ROUTE_CONFIGURATION",
        "VIRTUAL_HOST",
        "HTTP_ROUTE",
        "CLUSTER",
        "EXTENSION_CONFIG",
        "BOOTSTRAP",
        "LISTENER_FILTER"
       ]
      },
      "match": {
       "p": {
        "cluster": {
         "p": {
          "name": {
           "t": "s"
          },
          "portNumber": {
           "t": "u"
          },
          "service": {
           "t": "s"
          },
          "subset": {
           "t": "s"
          }
         },
         "t": "o"
        },
        "context": {
         "t": "enum",
         "v": [
          "ANY",
          "SIDECAR_INBOUND",
          "SIDECAR_OUTBOUND",
          "GATEWAY",
          "WAYPOINT"
         ]
        },
        "listener": {
         "p": {
          "filterChain": {
           "p": {
            "applicationProtocols": {
             "t": "s"
            },
            "destinationPort": {
             "t": "u"
            },
            "filter": {
             "p": {
              "name": {
               "t": "s"
              },
              "subFilter": {
               "p": {
                "name": {
                 "t": "s"
                }
               },
               "t": "o"
              }
             },
             "t": "o"
            },
            "name": {
             "t": "s"
            },
            "sni": {
             "t": "s"
            },
            "transportProtocol": {
             "t": "s"
            }
           },
           "t": "o"
          },
          "listenerFilter": {
           "t": "s"
          },
          "name": {
           "t": "s"
          },
          "portName": {
           "t": "s"
          },
          "portNumber": {
           "t": "u"
          }
         },
         "t": "o"
        },
        "proxy": {
         "p": {
          "metadata": {
           "t": "m",
           "v": {
            "t": "s"
           }
          },
          "proxyVersion": {
           "t": "s"
          }
         },
         "t": "o"
        },
        "routeConfiguration": {
         "p": {
          "gateway": {
           "t": "s"
          },
          "name": {
           "t": "s"
          },
          "portName": {
           "t": "s"
          },
          "portNumber": {
           "t": "u"
          },
          "vhost": {
           "p": {
            "domainName": {
             "t": "s"
            },
            "name": {
             "t": "s"
            },
            "route": {
             "p": {
              "action": {
               "t": "enum",
               "v": [
                "ANY",
                "ROUTE",
                "REDIRECT",
                "DIRECT_RESPONSE"
               ]
              },
              "name": {
               "t": "s"
              }
             },
             "t": "o"
            }
           },
           "t": "o"
          }
         },
         "t": "o"
        },
        "waypoint": {
         "p": {
          "filter": {
           "p": {
            "name": {
             "t": "s"
            },
            "subFilter": {
             "p": {
              "name": {
               "t": "s"
              }
             },
             "t": "o"
            }
           },
           "t": "o"
          },
          "portNumber": {
           "t": "u"
          },
          "route": {
           "p": {
            "name": {
             "t": "s"
            }
           },
           "t": "o"
          }
         },
         "t": "o"
        }
       },
       "t": "o"
      },
      "patch": {
       "p": {
        "filterClass": {
         "t": "enum",
         "v": [
          "UNSPECIFIED",
          "AUTHN",
          "AUTHZ",
          "STATS"
         ]
        },
        "operation": {
         "t": "enum",
         "v": [
          "INVALID",
          "MERGE",
          "ADD",
          "REMOVE",
          "INSERT_BEFORE",
          "INSERT_AFTER",
          "INSERT_FIRST",
          "REPLACE",
          "MERGE_AND_REPLACE_LIST"
         ]
        },
        "value": {
         "t": "any"
        }
       },
       "t": "o"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "priority": {
    "t": "i"
   },
   "targetRefs": {
    "i": {
     "p": {
      "group": {
       "t": "s"
      },
      "kind": {
       "t": "s"
      },
      "name": {
       "t": "s"
      },
      "namespace": {
       "t": "s"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "workloadSelector": {
    "p": {
     "labels": {
      "t": "m",
      "v": {
       "t": "s"
      }
     }
    },
    "t": "o"
   }
  },
  "t": "o"
 },
 "Gateway": {
  "p": {
   "selector": {
    "t": "m",
    "v": {
     "t": "s"
    }
   },
   "servers": {
    "i": {
     "p": {
      "bind": {
       "t": "s"
      },
      "defaultEndpoint": {
       "t": "s"
      },
      "hosts": {
       "i": {
        "t": "s"
       },
       "t": "a"
      },
      "name": {
       "t": "s"
      },
      "port": {
       "p": {
        "name": {
         "t": "s"
        },
        "number": {
         "t": "u"
        },
        "protocol": {
         "t": "s"
        },
        "targetPort": {
         "t": "u"
        }
       },
       "t": "o"
      },
      "tls": {
       "p": {
        "caCertCredentialName": {
         "t": "s"
        },
        "caCertificates": {
         "t": "s"
        },
        "caCrl": {
         "t": "s"
        },
        "cipherSuites": {
         "i": {
          "t": "s"
         },
         "t": "a"
        },
        "credentialName": {
         "t": "s"
        },
        "credentialNames": {
         "i": {
          "t": "s"
         },
         "t": "a"
        },
        "httpsRedirect": {
         "t": "b"
        },
        "insecureSkipVerify": {
         "t": "b"
        },
        "maxProtocolVersion": {
         "t": "enum",
         "v": [
          "TLS_AUTO",
          "TLSV1_0",
          "TLSV1_1",
          "TLSV1_2",
          "TLSV1_3"
         ]
        },
        "minProtocolVersion": {
         "t": "enum",
         "v": [
          "TLS_AUTO",
          "TLSV1_0",
          "TLSV1_1",
          "TLSV1_2",
          "TLSV1_3"
         ]
        },
        "mode": {
         "t": "enum",
         "v": [
          "PASSTHROUGH",
          "SIMPLE",
          "MUTUAL",
          "AUTO_PASSTHROUGH",
          "ISTIO_MUTUAL",
          "OPTIONAL_MUTUAL"
         ]
        },
        "privateKey": {
         "t": "s"
        },
        "serverCertificate": {
         "t": "s"
        },
        "subjectAltNames": {
         "i": {
          "t": "s"
         },
         "t": "a"
        },
        "tlsCertificates": {
         "i": {
          "p": {
           "caCertificates": {
            "t": "s"
           },
           "privateKey": {
            "t": "s"
           },
           "serverCertificate": {
            "t": "s"
           }
          },
          "t": "o"
         },
         "t": "a"
        },
        "verifyCertificateHash": {
         "i": {
          "t": "s"
         },
         "t": "a"
        },
        "verifyCertificateSpki": {
         "i": {
          "t": "s"
         },
         "t": "a"
        }
       },
       "t": "o"
      }
     },
     "t": "o"
    },
    "t": "a"
   }
  },
  "t": "o"
 },
 "PeerAuthentication": {
  "p": {
   "mtls": {
    "p": {
     "mode": {
      "t": "enum",
      "v": [
       "UNSET",
       "DISABLE",
       "PERMISSIVE",
       "STRICT"
      ]
     }
    },
    "t": "o"
   },
   "portLevelMtls": {
    "t": "m",
    "v": {
     "p": {
      "mode": {
       "t": "enum",
       "v": [
        "UNSET",
        "DISABLE",
        "PERMISSIVE",
        "STRICT"
       ]
      }
     },
     "t": "o"
    }
   },
   "selector": {
    "p": {
     "matchLabels": {
      "t": "m",
      "v": {
       "t": "s"
      }
     }
    },
    "t": "o"
   }
  },
  "t": "o"
 },
 "ProxyConfig": {
  "p": {
   "concurrency": {
    "t": "i"
   },
   "environmentVariables": {
    "t": "m",
    "v": {
     "t": "s"
    }
   },
   "image": {
    "p": {
     "imageType": {
      "t": "s"
     }
    },
    "t": "o"
   },
   "selector": {
    "p": {
     "matchLabels": {
      "t": "m",
      "v": {
       "t": "s"
      }
     }
    },
    "t": "o"
   }
  },
  "t": "o"
 },
 "RequestAuthentication": {
  "p": {
   "jwtRules": {
    "i": {
     "p": {
      "audiences": {
       "i": {
        "t": "s"
       },
       "t": "a"
      },
      "forwardOriginalToken": {
       "t": "b"
      },
      "fromCookies": {
       "i": {
        "t": "s"
       },
       "t": "a"
      },
      "fromHeaders": {
       "i": {
        "p": {
         "name": {
          "t": "s"
         },
         "prefix": {
          "t": "s"
         }
        },
        "t": "o"
       },
       "t": "a"
      },
      "fromParams": {
       "i": {
        "t": "s"
       },
       "t": "a"
      },
      "issuer": {
       "t": "s"
      },
      "jwks": {
       "t": "s"
      },
      "jwksUri": {
       "t": "s"
      },
      "jwks_uri": {
       "t": "s"
      },
      "outputClaimToHeaders": {
       "i": {
        "p": {
         "claim": {
          "t": "s"
         },
         "header": {
          "t": "s"
         }
        },
        "t": "o"
       },
       "t": "a"
      },
      "outputPayloadToHeader": {
       "t": "s"
      },
      "spaceDelimitedClaims": {
       "i": {
        "t": "s"
       },
       "t": "a"
      },
      "timeout": {
       "t": "duration"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "selector": {
    "p": {
     "matchLabels": {
      "t": "m",
      "v": {
       "t": "s"
      }
     }
    },
    "t": "o"
   },
   "targetRef": {
    "p": {
     "group": {
      "t": "s"
     },
     "kind": {
      "t": "s"
     },
     "name": {
      "t": "s"
     },
     "namespace": {
      "t": "s"
     }
    },
    "t": "o"
   },
   "targetRefs": {
    "i": {
     "p": {
      "group": {
       "t": "s"
      },
      "kind": {
       "t": "s"
      },
      "name": {
       "t": "s"
      },
      "namespace": {
       "t": "s"
      }
     },
     "t": "o"
    },
    "t": "a"
   }
  },
  "t": "o"
 },
 "ServiceEntry": {
  "p": {
   "addresses": {
    "i": {
     "t": "s"
    },
    "t": "a"
   },
   "endpoints": {
    "i": {
     "p": {
      "address": {
       "t": "s"
      },
      "labels": {
       "t": "m",
       "v": {
        "t": "s"
       }
      },
      "locality": {
       "t": "s"
      },
      "network": {
       "t": "s"
      },
      "ports": {
       "t": "m",
       "v": {
        "t": "u"
       }
      },
      "serviceAccount": {
       "t": "s"
      },
      "weight": {
       "t": "u"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "exportTo": {
    "i": {
     "t": "s"
    },
    "t": "a"
   },
   "hosts": {
    "i": {
     "t": "s"
    },
    "t": "a"
   },
   "location": {
    "t": "enum",
    "v": [
     "MESH_EXTERNAL",
     "MESH_INTERNAL"
    ]
   },
   "ports": {
    "i": {
     "p": {
      "name": {
       "t": "s"
      },
      "number": {
       "t": "u"
      },
      "protocol": {
       "t": "s"
      },
      "targetPort": {
       "t": "u"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "resolution": {
    "t": "enum",
    "v": [
     "NONE",
     "STATIC",
     "DNS",
     "DNS_ROUND_ROBIN",
     "DYNAMIC_DNS"
    ]
   },
   "subjectAltNames": {
    "i": {
     "t": "s"
    },
    "t": "a"
   },
   "workloadSelector": {
    "p": {
     "labels": {
      "t": "m",
      "v": {
       "t": "s"
      }
     }
    },
    "t": "o"
   }
  },
  "t": "o"
 },
 "Sidecar": {
  "p": {
   "egress": {
    "i": {
     "p": {
      "bind": {
       "t": "s"
      },
      "captureMode": {
       "t": "enum",
       "v": [
        "DEFAULT",
        "IPTABLES",
        "NONE"
       ]
      },
      "hosts": {
       "i": {
        "t": "s"
       },
       "t": "a"
      },
      "port": {
       "p": {
        "name": {
         "t": "s"
        },
        "number": {
         "t": "u"
        },
        "protocol": {
         "t": "s"
        },
        "targetPort": {
         "t": "u"
        }
       },
       "t": "o"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "inboundConnectionPool": {
    "p": {
     "http": {
      "p": {
       "h2UpgradePolicy": {
        "t": "enum",
        "v": [
         "DEFAULT",
         "DO_NOT_UPGRADE",
         "UPGRADE"
        ]
       },
       "http1MaxPendingRequests": {
        "t": "i"
       },
       "http2KeepAlive": {
        "p": {
         "interval": {
          "t": "duration"
         },
         "timeout": {
          "t": "duration"
         }
        },
        "t": "o"
       },
       "http2MaxRequests": {
        "t": "i"
       },
       "idleTimeout": {
        "t": "duration"
       },
       "maxConcurrentStreams": {
        "t": "i"
       },
       "maxRequestsPerConnection": {
        "t": "i"
       },
       "maxRetries": {
        "t": "i"
       },
       "useClientProtocol": {
        "t": "b"
       }
      },
      "t": "o"
     },
     "tcp": {
      "p": {
       "connectTimeout": {
        "t": "duration"
       },
       "idleTimeout": {
        "t": "s"
       },
       "maxConnectionDuration": {
        "t": "duration"
       },
       "maxConnections": {
        "t": "i"
       },
       "tcpKeepalive": {
        "p": {
         "interval": {
          "t": "duration"
         },
         "probes": {
          "t": "u"
         },
         "time": {
          "t": "duration"
         }
        },
        "t": "o"
       }
      },
      "t": "o"
     }
    },
    "t": "o"
   },
   "ingress": {
    "i": {
     "p": {
      "bind": {
       "t": "s"
      },
      "captureMode": {
       "t": "enum",
       "v": [
        "DEFAULT",
        "IPTABLES",
        "NONE"
       ]
      },
      "connectionPool": {
       "p": {
        "http": {
         "p": {
          "h2UpgradePolicy": {
           "t": "enum",
           "v": [
            "DEFAULT",
            "DO_NOT_UPGRADE",
            "UPGRADE"
           ]
          },
          "http1MaxPendingRequests": {
           "t": "i"
          },
          "http2KeepAlive": {
           "p": {
            "interval": {
             "t": "duration"
            },
            "timeout": {
             "t": "duration"
            }
           },
           "t": "o"
          },
          "http2MaxRequests": {
           "t": "i"
          },
          "idleTimeout": {
           "t": "duration"
          },
          "maxConcurrentStreams": {
           "t": "i"
          },
          "maxRequestsPerConnection": {
           "t": "i"
          },
          "maxRetries": {
           "t": "i"
          },
          "useClientProtocol": {
           "t": "b"
          }
         },
         "t": "o"
        },
        "tcp": {
         "p": {
          "connectTimeout": {
           "t": "duration"
          },
          "idleTimeout": {
           "t": "s"
          },
          "maxConnectionDuration": {
           "t": "duration"
          },
          "maxConnections": {
           "t": "i"
          },
          "tcpKeepalive": {
           "p": {
            "interval": {
             "t": "duration"
            },
            "probes": {
             "t": "u"
            },
            "time": {
             "t": "duration"
            }
           },
           "t": "o"
          }
         },
         "t": "o"
        }
       },
       "t": "o"
      },
      "defaultEndpoint": {
       "t": "s"
      },
      "port": {
       "p": {
        "name": {
         "t": "s"
        },
        "number": {
         "t": "u"
        },
        "protocol": {
         "t": "s"
        },
        "targetPort": {
         "t": "u"
        }
       },
       "t": "o"
      },
      "tls": {
       "p": {
        "caCertCredentialName": {
         "t": "s"
        },
        "caCertificates": {
         "t": "s"
        },
        "caCrl": {
         "t": "s"
        },
        "cipherSuites": {
         "i": {
          "t": "s"
         },
         "t": "a"
        },
        "credentialName": {
         "t": "s"
        },
        "credentialNames": {
         "i": {
          "t": "s"
         },
         "t": "a"
        },
        "httpsRedirect": {
         "t": "b"
        },
        "insecureSkipVerify": {
         "t": "b"
        },
        "maxProtocolVersion": {
         "t": "enum",
         "v": [
          "TLS_AUTO",
          "TLSV1_0",
          "TLSV1_1",
          "TLSV1_2",
          "TLSV1_3"
         ]
        },
        "minProtocolVersion": {
         "t": "enum",
         "v": [
          "TLS_AUTO",
          "TLSV1_0",
          "TLSV1_1",
          "TLSV1_2",
          "TLSV1_3"
         ]
        },
        "mode": {
         "t": "enum",
         "v": [
          "PASSTHROUGH",
          "SIMPLE",
          "MUTUAL",
          "AUTO_PASSTHROUGH",
          "ISTIO_MUTUAL",
          "OPTIONAL_MUTUAL"
         ]
        },
        "privateKey": {
         "t": "s"
        },
        "serverCertificate": {
         "t": "s"
        },
        "subjectAltNames": {
         "i": {
          "t": "s"
         },
         "t": "a"
        },
        "tlsCertificates": {
         "i": {
          "p": {
           "caCertificates": {
            "t": "s"
           },
           "privateKey": {
            "t": "s"
           },
           "serverCertificate": {
            "t": "s"
           }
          },
          "t": "o"
         },
         "t": "a"
        },
        "verifyCertificateHash": {
         "i": {
          "t": "s"
         },
         "t": "a"
        },
        "verifyCertificateSpki": {
         "i": {
          "t": "s"
         },
         "t": "a"
        }
       },
       "t": "o"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "outboundTrafficPolicy": {
    "p": {
     "egressProxy": {
      "p": {
       "host": {
        "t": "s"
       },
       "port": {
        "p": {
         "number": {
          "t": "u"
         }
        },
        "t": "o"
       },
       "subset": {
        "t": "s"
       }
      },
      "t": "o"
     },
     "mode": {
      "t": "enum",
      "v": [
       "REGISTRY_ONLY",
       "ALLOW_ANY"
      ]
     }
    },
    "t": "o"
   },
   "workloadSelector": {
    "p": {
     "labels": {
      "t": "m",
      "v": {
       "t": "s"
      }
     }
    },
    "t": "o"
   }
  },
  "t": "o"
 },
 "Telemetry": {
  "p": {
   "accessLogging": {
    "i": {
     "p": {
      "disabled": {
       "t": "b"
      },
      "filter": {
       "p": {
        "expression": {
         "t": "s"
        }
       },
       "t": "o"
      },
      "match": {
       "p": {
        "mode": {
         "t": "enum",
         "v": [
          "CLIENT_AND_SERVER",
          "CLIENT",
          "SERVER"
         ]
        }
       },
       "t": "o"
      },
      "providers": {
       "i": {
        "p": {
         "name": {
          "t": "s"
         }
        },
        "t": "o"
       },
       "t": "a"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "metrics": {
    "i": {
     "p": {
      "overrides": {
       "i": {
        "p": {
         "disabled": {
          "t": "b"
         },
         "match": {
          "p": {
           "customMetric": {
            "t": "s"
           },
           "metric": {
            "t": "enum",
            "v": [
             "ALL_METRICS",
             "REQUEST_COUNT",
             "REQUEST_DURATION",
             "REQUEST_SIZE",
             "RESPONSE_SIZE",
             "TCP_OPENED_CONNECTIONS",
             "TCP_CLOSED_CONNECTIONS",
             "TCP_SENT_BYTES",
             "TCP_RECEIVED_BYTES",
             "GRPC_REQUEST_MESSAGES",
             "GRPC_RESPONSE_MESSAGES"
            ]
           },
           "mode": {
            "t": "enum",
            "v": [
             "CLIENT_AND_SERVER",
             "CLIENT",
             "SERVER"
            ]
           }
          },
          "t": "o"
         },
         "tagOverrides": {
          "t": "m",
          "v": {
           "p": {
            "operation": {
             "t": "enum",
             "v": [
              "UPSERT",
              "REMOVE"
             ]
            },
            "value": {
             "t": "s"
            }
           },
           "t": "o"
          }
         }
        },
        "t": "o"
       },
       "t": "a"
      },
      "providers": {
       "i": {
        "p": {
         "name": {
          "t": "s"
         }
        },
        "t": "o"
       },
       "t": "a"
      },
      "reportingInterval": {
       "t": "duration"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "selector": {
    "p": {
     "matchLabels": {
      "t": "m",
      "v": {
       "t": "s"
      }
     }
    },
    "t": "o"
   },
   "targetRef": {
    "p": {
     "group": {
      "t": "s"
     },
     "kind": {
      "t": "s"
     },
     "name": {
      "t": "s"
     },
     "namespace": {
      "t": "s"
     }
    },
    "t": "o"
   },
   "targetRefs": {
    "i": {
     "p": {
      "group": {
       "t": "s"
      },
      "kind": {
       "t": "s"
      },
      "name": {
       "t": "s"
      },
      "namespace": {
       "t": "s"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "tracing": {
    "i": {
     "p": {
      "customTags": {
       "t": "m",
       "v": {
        "p": {
         "environment": {
          "p": {
           "defaultValue": {
            "t": "s"
           },
           "name": {
            "t": "s"
           }
          },
          "t": "o"
         },
         "formatter": {
          "p": {
           "value": {
            "t": "s"
           }
          },
          "t": "o"
         },
         "header": {
          "p": {
           "defaultValue": {
            "t": "s"
           },
           "name": {
            "t": "s"
           }
          },
          "t": "o"
         },
         "literal": {
          "p": {
           "value": {
            "t": "s"
           }
          },
          "t": "o"
         }
        },
        "t": "o"
       }
      },
      "disableContextPropagation": {
       "t": "b"
      },
      "disableSpanReporting": {
       "t": "b"
      },
      "enableIstioTags": {
       "t": "b"
      },
      "match": {
       "p": {
        "mode": {
         "t": "enum",
         "v": [
          "CLIENT_AND_SERVER",
          "CLIENT",
          "SERVER"
         ]
        }
       },
       "t": "o"
      },
      "providers": {
       "i": {
        "p": {
         "name": {
          "t": "s"
         }
        },
        "t": "o"
       },
       "t": "a"
      },
      "randomSamplingPercentage": {
       "t": "n"
      },
      "useRequestIdForTraceSampling": {
       "t": "b"
      }
     },
     "t": "o"
    },
    "t": "a"
   }
  },
  "t": "o"
 },
 "TrafficExtension": {
  "p": {
   "lua": {
    "p": {
     "inlineCode": {
      "t": "s"
     }
    },
    "t": "o"
   },
   "match": {
    "i": {
     "p": {
      "mode": {
       "t": "enum",
       "v": [
        "UNDEFINED",
        "CLIENT",
        "SERVER",
        "CLIENT_AND_SERVER"
       ]
      },
      "ports": {
       "i": {
        "p": {
         "number": {
          "t": "u"
         }
        },
        "t": "o"
       },
       "t": "a"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "phase": {
    "t": "enum",
    "v": [
     "UNSPECIFIED",
     "AUTHN",
     "AUTHZ",
     "STATS"
    ]
   },
   "priority": {
    "t": "i"
   },
   "selector": {
    "p": {
     "matchLabels": {
      "t": "m",
      "v": {
       "t": "s"
      }
     }
    },
    "t": "o"
   },
   "targetRefs": {
    "i": {
     "p": {
      "group": {
       "t": "s"
      },
      "kind": {
       "t": "s"
      },
      "name": {
       "t": "s"
      },
      "namespace": {
       "t": "s"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "wasm": {
    "p": {
     "failStrategy": {
      "t": "enum",
      "v": [
       "FAIL_CLOSE",
       "FAIL_OPEN",
       "FAIL_RELOAD"
      ]
     },
     "imagePullPolicy": {
      "t": "enum",
      "v": [
       "UNSPECIFIED_POLICY",
       "IfNotPresent",
       "Always"
      ]
     },
     "imagePullSecret": {
      "t": "s"
     },
     "pluginConfig": {
      "t": "any"
     },
     "pluginName": {
      "t": "s"
     },
     "sha256": {
      "t": "s"
     },
     "type": {
      "t": "enum",
      "v": [
       "UNSPECIFIED_PLUGIN_TYPE",
       "HTTP",
       "NETWORK"
      ]
     },
     "url": {
      "t": "s"
     },
     "verificationKey": {
      "t": "s"
     },
     "vmConfig": {
      "p": {
       "env": {
        "i": {
         "p": {
          "name": {
           "t": "s"
          },
          "value": {
           "t": "s"
          },
          "valueFrom": {
           "t": "enum",
           "v": [
            "INLINE",
            "HOST"
           ]
          }
         },
         "t": "o"
        },
        "t": "a"
       }
      },
      "t": "o"
     }
    },
    "t": "o"
   }
  },
  "t": "o"
 },
 "VirtualService": {
  "p": {
   "exportTo": {
    "i": {
     "t": "s"
    },
    "t": "a"
   },
   "gateways": {
    "i": {
     "t": "s"
    },
    "t": "a"
   },
   "hosts": {
    "i": {
     "t": "s"
    },
    "t": "a"
   },
   "http": {
    "i": {
     "p": {
      "corsPolicy": {
       "p": {
        "allowCredentials": {
         "t": "b"
        },
        "allowHeaders": {
         "i": {
          "t": "s"
         },
         "t": "a"
        },
        "allowMethods": {
         "i": {
          "t": "s"
         },
         "t": "a"
        },
        "allowOrigin": {
         "i": {
          "t": "s"
         },
         "t": "a"
        },
        "allowOrigins": {
         "i": {
          "p": {
           "exact": {
            "t": "s"
           },
           "prefix": {
            "t": "s"
           },
           "regex": {
            "t": "s"
           }
          },
          "t": "o"
         },
         "t": "a"
        },
        "exposeHeaders": {
         "i": {
          "t": "s"
         },
         "t": "a"
        },
        "maxAge": {
         "t": "duration"
        },
        "unmatchedPreflights": {
         "t": "enum",
         "v": [
          "UNSPECIFIED",
          "FORWARD",
          "IGNORE"
         ]
        }
       },
       "t": "o"
      },
      "delegate": {
       "p": {
        "name": {
         "t": "s"
        },
        "namespace": {
         "t": "s"
        }
       },
       "t": "o"
      },
      "directResponse": {
       "p": {
        "body": {
         "p": {
          "bytes": {
           "t": "s"
          },
          "string": {
           "t": "s"
          }
         },
         "t": "o"
        },
        "status": {
         "t": "u"
        }
       },
       "t": "o"
      },
      "fault": {
       "p": {
        "abort": {
         "p": {
          "grpcStatus": {
           "t": "s"
          },
          "http2Error": {
           "t": "s"
          },
          "httpStatus": {
           "t": "i"
          },
          "percentage": {
           "p": {
            "value": {
             "t": "n"
            }
           },
           "t": "o"
          }
         },
         "t": "o"
        },
        "delay": {
         "p": {
          "exponentialDelay": {
           "t": "duration"
          },
          "fixedDelay": {
           "t": "duration"
          },
          "percent": {
           "t": "i"
          },
          "percentage": {
           "p": {
            "value": {
             "t": "n"
            }
           },
           "t": "o"
          }
         },
         "t": "o"
        }
       },
       "t": "o"
      },
      "headers": {
       "p": {
        "request": {
         "p": {
          "add": {
           "t": "m",
           "v": {
            "t": "s"
           }
          },
          "remove": {
           "i": {
            "t": "s"
           },
           "t": "a"
          },
          "set": {
           "t": "m",
           "v": {
            "t": "s"
           }
          }
         },
         "t": "o"
        },
        "response": {
         "p": {
          "add": {
           "t": "m",
           "v": {
            "t": "s"
           }
          },
          "remove": {
           "i": {
            "t": "s"
           },
           "t": "a"
          },
          "set": {
           "t": "m",
           "v": {
            "t": "s"
           }
          }
         },
         "t": "o"
        }
       },
       "t": "o"
      },
      "match": {
       "i": {
        "p": {
         "authority": {
          "p": {
           "exact": {
            "t": "s"
           },
           "prefix": {
            "t": "s"
           },
           "regex": {
            "t": "s"
           }
          },
          "t": "o"
         },
         "gateways": {
          "i": {
           "t": "s"
          },
          "t": "a"
         },
         "headers": {
          "t": "m",
          "v": {
           "p": {
            "exact": {
             "t": "s"
            },
            "prefix": {
             "t": "s"
            },
            "regex": {
             "t": "s"
            }
           },
           "t": "o"
          }
         },
         "ignoreUriCase": {
          "t": "b"
         },
         "method": {
          "p": {
           "exact": {
            "t": "s"
           },
           "prefix": {
            "t": "s"
           },
           "regex": {
            "t": "s"
           }
          },
          "t": "o"
         },
         "name": {
          "t": "s"
         },
         "port": {
          "t": "u"
         },
         "queryParams": {
          "t": "m",
          "v": {
           "p": {
            "exact": {
             "t": "s"
            },
            "prefix": {
             "t": "s"
            },
            "regex": {
             "t": "s"
            }
           },
           "t": "o"
          }
         },
         "scheme": {
          "p": {
           "exact": {
            "t": "s"
           },
           "prefix": {
            "t": "s"
           },
           "regex": {
            "t": "s"
           }
          },
          "t": "o"
         },
         "sourceLabels": {
          "t": "m",
          "v": {
           "t": "s"
          }
         },
         "sourceNamespace": {
          "t": "s"
         },
         "statPrefix": {
          "t": "s"
         },
         "uri": {
          "p": {
           "exact": {
            "t": "s"
           },
           "prefix": {
            "t": "s"
           },
           "regex": {
            "t": "s"
           }
          },
          "t": "o"
         },
         "withoutHeaders": {
          "t": "m",
          "v": {
           "p": {
            "exact": {
             "t": "s"
            },
            "prefix": {
             "t": "s"
            },
            "regex": {
             "t": "s"
            }
           },
           "t": "o"
          }
         }
        },
        "t": "o"
       },
       "t": "a"
      },
      "mirror": {
       "p": {
        "host": {
         "t": "s"
        },
        "port": {
         "p": {
          "number": {
           "t": "u"
          }
         },
         "t": "o"
        },
        "subset": {
         "t": "s"
        }
       },
       "t": "o"
      },
      "mirrorPercent": {
       "t": "u"
      },
      "mirrorPercentage": {
       "p": {
        "value": {
         "t": "n"
        }
       },
       "t": "o"
      },
      "mirror_percent": {
       "t": "u"
      },
      "mirrors": {
       "i": {
        "p": {
         "destination": {
          "p": {
           "host": {
            "t": "s"
           },
           "port": {
            "p": {
             "number": {
              "t": "u"
             }
            },
            "t": "o"
           },
           "subset": {
            "t": "s"
           }
          },
          "t": "o"
         },
         "percentage": {
          "p": {
           "value": {
            "t": "n"
           }
          },
          "t": "o"
         }
        },
        "t": "o"
       },
       "t": "a"
      },
      "name": {
       "t": "s"
      },
      "redirect": {
       "p": {
        "authority": {
         "t": "s"
        },
        "derivePort": {
         "t": "enum",
         "v": [
          "FROM_PROTOCOL_DEFAULT",
          "FROM_REQUEST_PORT"
         ]
        },
        "port": {
         "t": "u"
        },
        "prefixRewrite": {
         "t": "s"
        },
        "redirectCode": {
         "t": "u"
        },
        "scheme": {
         "t": "s"
        },
        "uri": {
         "t": "s"
        }
       },
       "t": "o"
      },
      "retries": {
       "p": {
        "attempts": {
         "t": "i"
        },
        "backoff": {
         "t": "duration"
        },
        "perTryTimeout": {
         "t": "duration"
        },
        "retryIgnorePreviousHosts": {
         "t": "b"
        },
        "retryOn": {
         "t": "s"
        },
        "retryRemoteLocalities": {
         "t": "b"
        }
       },
       "t": "o"
      },
      "rewrite": {
       "p": {
        "authority": {
         "t": "s"
        },
        "uri": {
         "t": "s"
        },
        "uriRegexRewrite": {
         "p": {
          "match": {
           "t": "s"
          },
          "rewrite": {
           "t": "s"
          }
         },
         "t": "o"
        }
       },
       "t": "o"
      },
      "route": {
       "i": {
        "p": {
         "destination": {
          "p": {
           "host": {
            "t": "s"
           },
           "port": {
            "p": {
             "number": {
              "t": "u"
             }
            },
            "t": "o"
           },
           "subset": {
            "t": "s"
           }
          },
          "t": "o"
         },
         "headers": {
          "p": {
           "request": {
            "p": {
             "add": {
              "t": "m",
              "v": {
               "t": "s"
              }
             },
             "remove": {
              "i": {
               "t": "s"
              },
              "t": "a"
             },
             "set": {
              "t": "m",
              "v": {
               "t": "s"
              }
             }
            },
            "t": "o"
           },
           "response": {
            "p": {
             "add": {
              "t": "m",
              "v": {
               "t": "s"
              }
             },
             "remove": {
              "i": {
               "t": "s"
              },
              "t": "a"
             },
             "set": {
              "t": "m",
              "v": {
               "t": "s"
              }
             }
            },
            "t": "o"
           }
          },
          "t": "o"
         },
         "weight": {
          "t": "i"
         }
        },
        "t": "o"
       },
       "t": "a"
      },
      "timeout": {
       "t": "duration"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "tcp": {
    "i": {
     "p": {
      "match": {
       "i": {
        "p": {
         "destinationSubnets": {
          "i": {
           "t": "s"
          },
          "t": "a"
         },
         "gateways": {
          "i": {
           "t": "s"
          },
          "t": "a"
         },
         "port": {
          "t": "u"
         },
         "sourceLabels": {
          "t": "m",
          "v": {
           "t": "s"
          }
         },
         "sourceNamespace": {
          "t": "s"
         },
         "sourceSubnet": {
          "t": "s"
         }
        },
        "t": "o"
       },
       "t": "a"
      },
      "route": {
       "i": {
        "p": {
         "destination": {
          "p": {
           "host": {
            "t": "s"
           },
           "port": {
            "p": {
             "number": {
              "t": "u"
             }
            },
            "t": "o"
           },
           "subset": {
            "t": "s"
           }
          },
          "t": "o"
         },
         "weight": {
          "t": "i"
         }
        },
        "t": "o"
       },
       "t": "a"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "tls": {
    "i": {
     "p": {
      "match": {
       "i": {
        "p": {
         "destinationSubnets": {
          "i": {
           "t": "s"
          },
          "t": "a"
         },
         "gateways": {
          "i": {
           "t": "s"
          },
          "t": "a"
         },
         "port": {
          "t": "u"
         },
         "sniHosts": {
          "i": {
           "t": "s"
          },
          "t": "a"
         },
         "sourceLabels": {
          "t": "m",
          "v": {
           "t": "s"
          }
         },
         "sourceNamespace": {
          "t": "s"
         }
        },
        "t": "o"
       },
       "t": "a"
      },
      "route": {
       "i": {
        "p": {
         "destination": {
          "p": {
           "host": {
            "t": "s"
           },
           "port": {
            "p": {
             "number": {
              "t": "u"
             }
            },
            "t": "o"
           },
           "subset": {
            "t": "s"
           }
          },
          "t": "o"
         },
         "weight": {
          "t": "i"
         }
        },
        "t": "o"
       },
       "t": "a"
      }
     },
     "t": "o"
    },
    "t": "a"
   }
  },
  "t": "o"
 },
 "WasmPlugin": {
  "p": {
   "failStrategy": {
    "t": "enum",
    "v": [
     "FAIL_CLOSE",
     "FAIL_OPEN",
     "FAIL_RELOAD"
    ]
   },
   "imagePullPolicy": {
    "t": "enum",
    "v": [
     "UNSPECIFIED_POLICY",
     "IfNotPresent",
     "Always"
    ]
   },
   "imagePullSecret": {
    "t": "s"
   },
   "match": {
    "i": {
     "p": {
      "mode": {
       "t": "enum",
       "v": [
        "UNDEFINED",
        "CLIENT",
        "SERVER",
        "CLIENT_AND_SERVER"
       ]
      },
      "ports": {
       "i": {
        "p": {
         "number": {
          "t": "u"
         }
        },
        "t": "o"
       },
       "t": "a"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "phase": {
    "t": "enum",
    "v": [
     "UNSPECIFIED_PHASE",
     "AUTHN",
     "AUTHZ",
     "STATS"
    ]
   },
   "pluginConfig": {
    "t": "any"
   },
   "pluginName": {
    "t": "s"
   },
   "priority": {
    "t": "i"
   },
   "selector": {
    "p": {
     "matchLabels": {
      "t": "m",
      "v": {
       "t": "s"
      }
     }
    },
    "t": "o"
   },
   "sha256": {
    "t": "s"
   },
   "targetRef": {
    "p": {
     "group": {
      "t": "s"
     },
     "kind": {
      "t": "s"
     },
     "name": {
      "t": "s"
     },
     "namespace": {
      "t": "s"
     }
    },
    "t": "o"
   },
   "targetRefs": {
    "i": {
     "p": {
      "group": {
       "t": "s"
      },
      "kind": {
       "t": "s"
      },
      "name": {
       "t": "s"
      },
      "namespace": {
       "t": "s"
      }
     },
     "t": "o"
    },
    "t": "a"
   },
   "type": {
    "t": "enum",
    "v": [
     "UNSPECIFIED_PLUGIN_TYPE",
     "HTTP",
     "NETWORK"
    ]
   },
   "url": {
    "t": "s"
   },
   "verificationKey": {
    "t": "s"
   },
   "vmConfig": {
    "p": {
     "env": {
      "i": {
       "p": {
        "name": {
         "t": "s"
        },
        "value": {
         "t": "s"
        },
        "valueFrom": {
         "t": "enum",
         "v": [
          "INLINE",
          "HOST"
         ]
        }
       },
       "t": "o"
      },
      "t": "a"
     }
    },
    "t": "o"
   }
  },
  "t": "o"
 },
 "WorkloadEntry": {
  "p": {
   "address": {
    "t": "s"
   },
   "labels": {
    "t": "m",
    "v": {
     "t": "s"
    }
   },
   "locality": {
    "t": "s"
   },
   "network": {
    "t": "s"
   },
   "ports": {
    "t": "m",
    "v": {
     "t": "u"
    }
   },
   "serviceAccount": {
    "t": "s"
   },
   "weight": {
    "t": "u"
   }
  },
  "t": "o"
 },
 "WorkloadGroup": {
  "p": {
   "metadata": {
    "p": {
     "annotations": {
      "t": "m",
      "v": {
       "t": "s"
      }
     },
     "labels": {
      "t": "m",
      "v": {
       "t": "s"
      }
     }
    },
    "t": "o"
   },
   "probe": {
    "p": {
     "exec": {
      "p": {
       "command": {
        "i": {
         "t": "s"
        },
        "t": "a"
       }
      },
      "t": "o"
     },
     "failureThreshold": {
      "t": "i"
     },
     "grpc": {
      "p": {
       "port": {
        "t": "u"
       },
       "service": {
        "t": "s"
       }
      },
      "t": "o"
     },
     "httpGet": {
      "p": {
       "host": {
        "t": "s"
       },
       "httpHeaders": {
        "i": {
         "p": {
          "name": {
           "t": "s"
          },
          "value": {
           "t": "s"
          }
         },
         "t": "o"
        },
        "t": "a"
       },
       "path": {
        "t": "s"
       },
       "port": {
        "t": "u"
       },
       "scheme": {
        "t": "s"
       }
      },
      "t": "o"
     },
     "initialDelaySeconds": {
      "t": "i"
     },
     "periodSeconds": {
      "t": "i"
     },
     "successThreshold": {
      "t": "i"
     },
     "tcpSocket": {
      "p": {
       "host": {
        "t": "s"
       },
       "port": {
        "t": "u"
       }
      },
      "t": "o"
     },
     "timeoutSeconds": {
      "t": "i"
     }
    },
    "t": "o"
   },
   "template": {
    "p": {
     "address": {
      "t": "s"
     },
     "labels": {
      "t": "m",
      "v": {
       "t": "s"
      }
     },
     "locality": {
      "t": "s"
     },
     "network": {
      "t": "s"
     },
     "ports": {
      "t": "m",
      "v": {
       "t": "u"
      }
     },
     "serviceAccount": {
      "t": "s"
     },
     "weight": {
      "t": "u"
     }
    },
    "t": "o"
   }
  },
  "t": "o"
 }
}
