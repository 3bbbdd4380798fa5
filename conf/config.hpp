// The configuration of DESIGN §3 as plain values. The parser fills these and remembers where each
// value came from (source_mark, for FILE:LINE:COL errors); validation then checks them as a whole
// and hands out an immutable `std::shared_ptr<const config>`. Defaults here are the documented
// ones, so a missing optional key needs no code of its own.
#pragma once

#include "conf/source_mark.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace danegate::conf {

using namespace std::chrono_literals;
using duration = std::chrono::milliseconds;

/** "0.0.0.0:8443", "[::1]:9901", "localhost:8443": where to listen. */
struct listen_address {
    std::string host;  ///< an IP address or a name, without brackets
    std::uint16_t port = 0;
    source_mark mark;
};

/** "app1.corp.example:8443": an upstream endpoint, authenticated by _8443._tcp.app1.corp.example. */
struct endpoint_address {
    std::string host;  ///< a DNS name, lower case, no trailing dot (never an IP: DANE needs a name)
    std::uint16_t port = 0;
    source_mark mark;
};

struct stub_zone {
    std::string name;                ///< "corp.example."
    std::vector<std::string> addrs;  ///< "10.0.0.53@53"
    source_mark mark;
};

struct resolver_config {
    std::optional<std::string> trust_anchor_file;
    std::vector<std::string> trust_anchors;  ///< "zone. DS ..." lines
    std::vector<stub_zone> stub_zones;
    std::vector<std::string> forwarders;     ///< "127.0.0.1@53"
    std::optional<std::string> unbound_conf;
    duration timeout = 5s;
    duration negative_ttl = 30s;
    duration error_ttl = 5s;
    source_mark mark;
    source_mark trust_anchor_file_mark;  ///< where trust_anchor_file was written (file errors)
    source_mark unbound_conf_mark;       ///< where unbound_conf was written (file errors)
};

struct certificate_pair {
    std::string cert;  ///< PEM file: the certificate, then its chain
    std::string key;   ///< PEM file: the private key
    source_mark mark;
    source_mark cert_mark;  ///< where cert was written (file and PEM errors)
    source_mark key_mark;   ///< where key was written (file, PEM and mismatch errors)
};

enum class tls_version { tls1_2, tls1_3 };

struct listener_tls {
    std::vector<certificate_pair> certificates;  ///< chosen by SNI; the first without SNI
    tls_version min_version = tls_version::tls1_2;
    source_mark mark;
};

enum class listener_protocol { http, tcp };

/** All given fields must match; none given matches everything. */
struct route_match {
    std::optional<std::string> host;         ///< "app.corp.example" or "*.corp.example" (HTTP)
    std::optional<std::string> path_prefix;  ///< "/api/" (HTTP)
    std::optional<std::string> sni;          ///< exact or "*." wildcard (TCP listeners, or HTTP too)
    source_mark mark;
    source_mark host_mark;         ///< where host was written (a tcp listener may not use it)
    source_mark path_prefix_mark;  ///< where path_prefix was written (likewise)
};

struct route {
    route_match match;
    std::string upstream;  ///< the name of an upstream
    source_mark mark;
    source_mark upstream_mark;  ///< where the upstream name was written (unknown-upstream errors)
};

struct listener {
    std::string name;
    listen_address address;
    listener_protocol protocol = listener_protocol::http;
    listener_tls tls;
    std::vector<route> routes;  ///< first match wins
    source_mark mark;
    source_mark name_mark;  ///< where name was written (duplicate-name errors)
};

enum class dane_usage { dane_ta, dane_ee };

struct upstream_dane {
    std::vector<dane_usage> usages{dane_usage::dane_ta, dane_usage::dane_ee};
    bool ee_name_checks = false;
    source_mark mark;
};

enum class sni_kind { host, none, fixed };

/** `sni: host` (default), `sni: none`, or `sni: some.name`. */
struct upstream_sni {
    sni_kind kind = sni_kind::host;
    std::string name;  ///< for sni_kind::fixed
    source_mark mark;
};

struct pool_config {
    std::size_t max_idle = 64;
    duration idle_timeout = 60s;
    source_mark mark;
};

struct upstream_timeouts {
    duration connect = 5s;
    duration response = 30s;
    source_mark mark;
};

/** Passive health (nginx max_fails/fail_timeout): eject after consecutive failures, retry later. */
struct health_config {
    unsigned max_failures = 3;
    duration retry_after = 10s;
    source_mark mark;
};

struct upstream {
    std::string name;
    std::vector<endpoint_address> endpoints;  ///< either endpoints...
    std::optional<std::string> srv;           ///< ...or a DNSSEC-validated SRV name
    upstream_dane dane;
    upstream_sni sni;
    pool_config pool;
    upstream_timeouts timeouts;
    health_config health;
    source_mark mark;
    source_mark name_mark;       ///< where name was written (duplicate-name errors)
    source_mark endpoints_mark;  ///< where endpoints was written (endpoints-and-srv errors)
    source_mark srv_mark;        ///< where srv was written
};

struct admin_config {
    std::optional<listen_address> address;  ///< no admin listener unless given
    source_mark mark;
};

enum class log_level { trace, debug, info, warn, error, critical, off };

struct log_config {
    log_level level = log_level::info;
    std::string access = "stdout";  ///< "stdout", "off", or a file path
    source_mark mark;
};

struct limits_config {
    std::size_t max_connections = 10000;
    std::size_t header_bytes = 64 * 1024;
    duration header_timeout = 10s;
    duration idle_timeout = 60s;
    source_mark mark;
};

struct config {
    std::string file;      ///< where it was read from
    unsigned threads = 0;  ///< 0 until validated: then the number of cores unless given
    resolver_config resolver;
    std::vector<listener> listeners;
    std::vector<upstream> upstreams;
    admin_config admin;
    log_config log;
    limits_config limits;
    duration drain_timeout = 30s;
    source_mark mark;  ///< the top-level mapping (errors about the file as a whole)
};

}  // namespace danegate::conf
