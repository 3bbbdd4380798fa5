// The rule table and the one generic walker that applies it. Each mapping of DESIGN §3 is a table
// of field rules, built from a handful of typed helpers (integer, duration, size, word, text,
// mapping, sequence, list); the walker reports unknown and duplicate keys and missing required
// ones, and the helpers report wrong types and bad values. Adding a key is one line in a table.
#include "conf/schema.hpp"

#include "conf/units.hpp"

#include <algorithm>
#include <charconv>
#include <functional>
#include <set>
#include <sstream>
#include <utility>

namespace danegate::conf {
namespace {

/** Where the walker is: the errors it collects and the key path messages start with. */
class context {
public:
    explicit context(std::vector<config_error>& errors) : errors_(errors) {}

    void error(const source_mark& mark, const std::string& message)
    {
        errors_.push_back(config_error{mark, path_.empty() ? message : path_ + ": " + message});
    }
    /** An error whose message names its place itself (unknown keys). */
    void plain_error(const source_mark& mark, std::string message)
    {
        errors_.push_back(config_error{mark, std::move(message)});
    }
    const std::string& path() const { return path_; }

    /** Enters a key ("tls") or an index ("[0]") for the guard's lifetime. */
    class guard {
    public:
        guard(context& ctx, std::string_view step) : ctx_(ctx), size_(ctx.path_.size())
        {
            if (!ctx.path_.empty() && step.front() != '[') {
                ctx.path_ += '.';
            }
            ctx.path_ += step;
        }
        ~guard() { ctx_.path_.resize(size_); }
        guard(const guard&) = delete;
        guard& operator=(const guard&) = delete;

    private:
        context& ctx_;
        std::size_t size_;
    };

private:
    std::vector<config_error>& errors_;
    std::string path_;
};

std::string describe(const node& n)
{
    switch (n.kind) {
    case node_kind::null:
        return "nothing";
    case node_kind::scalar:
        return "'" + n.text + "'";
    case node_kind::sequence:
        return "a list";
    case node_kind::mapping:
        return "a mapping";
    }
    return "?";
}

// ---- scalar readers: check the node's type and syntax, report, return nullopt on error ----

std::optional<std::string> read_scalar(const node& n, context& ctx, std::string_view expected)
{
    if (n.kind != node_kind::scalar) {
        ctx.error(n.mark, "expected " + std::string(expected) + ", found " + describe(n));
        return std::nullopt;
    }
    return n.text;
}

std::optional<long long> read_integer(const node& n, context& ctx, long long min, long long max)
{
    auto text = read_scalar(n, ctx, "an integer");
    if (!text) {
        return std::nullopt;
    }
    long long value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (text->empty() || ec == std::errc::invalid_argument || end != text->data() + text->size()) {
        ctx.error(n.mark, "expected an integer, found " + describe(n));
        return std::nullopt;
    }
    if (ec == std::errc::result_out_of_range || value < min || value > max) {
        ctx.error(n.mark, *text + " is out of range " + std::to_string(min) + ".." + std::to_string(max));
        return std::nullopt;
    }
    return value;
}

std::optional<bool> read_bool(const node& n, context& ctx)
{
    auto text = read_scalar(n, ctx, "true or false");
    if (!text) {
        return std::nullopt;
    }
    // YAML 1.2's core schema: yes/no/on/off are strings there, so they are refused rather than guessed.
    if (*text == "true") {
        return true;
    }
    if (*text == "false") {
        return false;
    }
    ctx.error(n.mark, "expected true or false, found " + describe(n));
    return std::nullopt;
}

std::string format_duration(duration d)
{
    const auto ms = d.count();
    if (ms % 3'600'000 == 0 && ms != 0) {
        return std::to_string(ms / 3'600'000) + "h";
    }
    if (ms % 60'000 == 0 && ms != 0) {
        return std::to_string(ms / 60'000) + "m";
    }
    if (ms % 1000 == 0) {
        return std::to_string(ms / 1000) + "s";
    }
    return std::to_string(ms) + "ms";
}

std::optional<duration> read_duration(const node& n, context& ctx, duration min, duration max)
{
    auto text = read_scalar(n, ctx, "a duration such as 5s");
    if (!text) {
        return std::nullopt;
    }
    auto value = parse_duration(*text);
    if (!value) {
        ctx.error(n.mark, value.error());
        return std::nullopt;
    }
    if (*value < min || *value > max) {
        ctx.error(n.mark, *text + " is out of range " + format_duration(min) + ".." + format_duration(max));
        return std::nullopt;
    }
    return *value;
}

std::optional<std::size_t> read_size(const node& n, context& ctx, std::size_t min, std::size_t max)
{
    auto text = read_scalar(n, ctx, "a size such as 64KiB");
    if (!text) {
        return std::nullopt;
    }
    auto value = parse_size(*text);
    if (!value) {
        ctx.error(n.mark, value.error());
        return std::nullopt;
    }
    if (*value < min || *value > max) {
        ctx.error(n.mark, *text + " is out of range " + std::to_string(min) + ".." + std::to_string(max) + " bytes");
        return std::nullopt;
    }
    return *value;
}

template <class E>
using word_table = std::vector<std::pair<std::string_view, E>>;

template <class E>
std::optional<E> read_word(const node& n, context& ctx, const word_table<E>& words)
{
    std::string allowed;
    for (const auto& [word, value] : words) {
        allowed += (allowed.empty() ? "" : ", ") + std::string(word);
    }
    auto text = read_scalar(n, ctx, "one of " + allowed);
    if (!text) {
        return std::nullopt;
    }
    for (const auto& [word, value] : words) {
        if (*text == word) {
            return value;
        }
    }
    ctx.error(n.mark, describe(n) + " is not one of " + allowed);
    return std::nullopt;
}

/** A checker sees the text and may normalise it; it returns an error sentence or nothing. */
using text_check = std::function<std::optional<std::string>(std::string&)>;

std::optional<std::string> read_text(const node& n, context& ctx, const text_check& check)
{
    auto text = read_scalar(n, ctx, "a string");
    if (!text) {
        return std::nullopt;
    }
    if (text->empty()) {
        ctx.error(n.mark, "must not be empty");
        return std::nullopt;
    }
    if (check) {
        if (auto problem = check(*text)) {
            ctx.error(n.mark, *problem);
            return std::nullopt;
        }
    }
    return text;
}

/** A check made of a units.hpp parser: its error is the problem, and @p store may rewrite the
 *  text from the parsed value (the normalized spelling is what the configuration keeps). */
template <class Parse, class Store>
text_check parsed_by(Parse parse, Store store)
{
    return [parse, store](std::string& text) -> std::optional<std::string> {
        auto parsed = parse(text);
        if (!parsed) {
            return parsed.error();
        }
        store(text, *parsed);
        return std::nullopt;
    };
}

text_check domain_name(name_rules rules)
{
    return parsed_by([rules](const std::string& text) { return parse_domain_name(text, rules); },
                     [](std::string& text, const std::string& name) { text = name; });
}

/** Stub zones keep the absolute spelling ("corp.example.") that unbound's stub-zone expects. */
text_check zone_name()
{
    return parsed_by([](const std::string& text) { return parse_domain_name(text); },
                     [](std::string& text, const std::string& name) { text = name + "."; });
}

/** Resolver addresses stay as written ("10.0.0.53@53"): libunbound parses that form itself. */
text_check resolver_address_text()
{
    return parsed_by([](const std::string& text) { return parse_resolver_address(text); },
                     [](std::string&, const resolver_address&) {});
}

text_check trust_anchor_line()
{
    // The full syntax is unbound's to judge; this catches a path or a bare hash written here.
    // Fields may be separated by tabs, as ldns-key2ds and dig print them.
    return [](std::string& text) -> std::optional<std::string> {
        std::istringstream fields(text);
        for (std::string field; fields >> field;) {
            for (char& c : field) {
                c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
            }
            if (field == "DS" || field == "DNSKEY") {
                return std::nullopt;
            }
        }
        return "expected a DS or DNSKEY record such as \"corp.example. DS 12345 13 2 <hex>\"";
    };
}

text_check path_prefix()
{
    return [](std::string& text) -> std::optional<std::string> {
        if (text.front() != '/') {
            return "a path prefix starts with '/'";
        }
        return std::nullopt;
    };
}

// ---- field rules ----

template <class T>
struct field_rule {
    std::string_view key;
    bool required = false;
    std::function<void(T&, const node&, context&)> apply;
};

template <class T>
using rule_table = std::vector<field_rule<T>>;

constexpr bool required_key = true;
constexpr bool optional_key = false;

template <class T, class M>
field_rule<T> integer(std::string_view key, M T::*member, long long min, long long max)
{
    return {key, optional_key, [=](T& out, const node& n, context& ctx) {
                if (auto v = read_integer(n, ctx, min, max)) {
                    out.*member = static_cast<M>(*v);
                }
            }};
}

template <class T>
field_rule<T> boolean(std::string_view key, bool T::*member)
{
    return {key, optional_key, [=](T& out, const node& n, context& ctx) {
                if (auto v = read_bool(n, ctx)) {
                    out.*member = *v;
                }
            }};
}

template <class T>
field_rule<T> timespan(std::string_view key, duration T::*member, duration min, duration max)
{
    return {key, optional_key, [=](T& out, const node& n, context& ctx) {
                if (auto v = read_duration(n, ctx, min, max)) {
                    out.*member = *v;
                }
            }};
}

template <class T>
field_rule<T> byte_size(std::string_view key, std::size_t T::*member, std::size_t min, std::size_t max)
{
    return {key, optional_key, [=](T& out, const node& n, context& ctx) {
                if (auto v = read_size(n, ctx, min, max)) {
                    out.*member = *v;
                }
            }};
}

template <class T, class E>
field_rule<T> word(std::string_view key, E T::*member, word_table<E> words)
{
    return {key, optional_key, [=](T& out, const node& n, context& ctx) {
                if (auto v = read_word(n, ctx, words)) {
                    out.*member = *v;
                }
            }};
}

/** A string (or optional string) member, checked, with the value's position kept if asked. */
template <class T, class M>
field_rule<T> text(std::string_view key, bool need, M T::*member, text_check check = {},
                   source_mark T::*mark = nullptr)
{
    return {key, need, [=](T& out, const node& n, context& ctx) {
                if (auto v = read_text(n, ctx, check)) {
                    out.*member = std::move(*v);
                    if (mark != nullptr) {
                        out.*mark = n.mark;
                    }
                }
            }};
}

/** A list of scalars, each read by @p read (which reports its own errors). */
template <class T, class E>
field_rule<T> list(std::string_view key, bool need, std::vector<E> T::*member, std::size_t min_items,
                   std::function<std::optional<E>(const node&, context&)> read,
                   source_mark T::*mark = nullptr)
{
    return {key, need, [=](T& out, const node& n, context& ctx) {
                if (n.kind != node_kind::sequence) {
                    ctx.error(n.mark, "expected a list, found " + describe(n));
                    return;
                }
                if (mark != nullptr) {
                    out.*mark = n.mark;
                }
                if (n.children.size() < min_items) {
                    ctx.error(n.mark, "must not be empty");
                }
                std::vector<E> values;
                for (std::size_t i = 0; i < n.children.size(); ++i) {
                    context::guard at(ctx, "[" + std::to_string(i) + "]");
                    if (auto v = read(n.children[i], ctx)) {
                        values.push_back(std::move(*v));
                    }
                }
                out.*member = std::move(values);
            }};
}

std::function<std::optional<std::string>(const node&, context&)> text_item(text_check check)
{
    return [check](const node& n, context& ctx) { return read_text(n, ctx, check); };
}

template <class T>
void apply_mapping(T& out, const node& n, const rule_table<T>& rules, context& ctx)
{
    if (n.kind != node_kind::mapping) {
        ctx.error(n.mark, "expected a mapping, found " + describe(n));
        return;
    }
    out.mark = n.mark;
    std::vector<std::string_view> keys;
    for (const auto& rule : rules) {
        keys.push_back(rule.key);
    }
    std::vector<const node*> seen(rules.size(), nullptr);
    for (const node& value : n.children) {
        const auto found = std::find_if(rules.begin(), rules.end(), [&](const auto& r) { return r.key == value.key; });
        if (found == rules.end()) {
            std::string message = "unknown key '" + value.key + "' " +
                                  (ctx.path().empty() ? std::string("at the top level") : "in " + ctx.path());
            const auto suggestion = closest_word(value.key, keys);
            if (!suggestion.empty()) {
                message += "; did you mean '" + std::string(suggestion) + "'?";
            }
            ctx.plain_error(value.key_mark, std::move(message));
            continue;
        }
        const auto index = static_cast<std::size_t>(found - rules.begin());
        if (seen[index] != nullptr) {
            ctx.plain_error(value.key_mark, "duplicate key '" + value.key + "' (first at " +
                                                seen[index]->key_mark.to_string() + ")");
            continue;
        }
        seen[index] = &value;
        context::guard at(ctx, value.key);
        found->apply(out, value, ctx);
    }
    for (std::size_t i = 0; i < rules.size(); ++i) {
        if (rules[i].required && seen[i] == nullptr) {
            ctx.error(n.mark, "missing required key '" + std::string(rules[i].key) + "'");
        }
    }
}

template <class T, class S>
field_rule<T> mapping(std::string_view key, S T::*member, const rule_table<S>& (*rules)())
{
    return {key, optional_key, [=](T& out, const node& n, context& ctx) { apply_mapping(out.*member, n, rules(), ctx); }};
}

/** A list of mappings, each filled by its own rule table. */
template <class T, class S>
field_rule<T> sequence(std::string_view key, bool need, std::vector<S> T::*member, std::size_t min_items,
                       const rule_table<S>& (*rules)())
{
    return list<T, S>(key, need, member, min_items, [rules](const node& n, context& ctx) -> std::optional<S> {
        S item;
        apply_mapping(item, n, rules(), ctx);
        return item;
    });
}

// ---- the tables: DESIGN §3, plus upstreams[].health and routes[].match.sni ----

const rule_table<stub_zone>& stub_zone_rules()
{
    static const rule_table<stub_zone> rules{
        text("name", required_key, &stub_zone::name, zone_name()),
        list("addrs", required_key, &stub_zone::addrs, 1, text_item(resolver_address_text())),
    };
    return rules;
}

const rule_table<resolver_config>& resolver_rules()
{
    static const rule_table<resolver_config> rules{
        text("trust_anchor_file", optional_key, &resolver_config::trust_anchor_file, {},
             &resolver_config::trust_anchor_file_mark),
        list("trust_anchors", optional_key, &resolver_config::trust_anchors, 1, text_item(trust_anchor_line())),
        sequence("stub_zones", optional_key, &resolver_config::stub_zones, 0, &stub_zone_rules),
        list("forwarders", optional_key, &resolver_config::forwarders, 0, text_item(resolver_address_text())),
        text("unbound_conf", optional_key, &resolver_config::unbound_conf, {}, &resolver_config::unbound_conf_mark),
        timespan("timeout", &resolver_config::timeout, 100ms, 2min),
        timespan("negative_ttl", &resolver_config::negative_ttl, 0s, 24h),
        timespan("error_ttl", &resolver_config::error_ttl, 0s, 1h),
    };
    return rules;
}

const rule_table<certificate_pair>& certificate_rules()
{
    static const rule_table<certificate_pair> rules{
        text("cert", required_key, &certificate_pair::cert, {}, &certificate_pair::cert_mark),
        text("key", required_key, &certificate_pair::key, {}, &certificate_pair::key_mark),
    };
    return rules;
}

const rule_table<listener_tls>& tls_rules()
{
    static const rule_table<listener_tls> rules{
        sequence("certificates", required_key, &listener_tls::certificates, 1, &certificate_rules),
        word("min_version", &listener_tls::min_version,
             word_table<tls_version>{{"TLSv1.2", tls_version::tls1_2}, {"TLSv1.3", tls_version::tls1_3}}),
    };
    return rules;
}

const rule_table<route_match>& match_rules()
{
    const name_rules pattern{.allow_wildcard = true, .allow_underscore = false};
    static const rule_table<route_match> rules{
        text("host", optional_key, &route_match::host, domain_name(pattern), &route_match::host_mark),
        text("path_prefix", optional_key, &route_match::path_prefix, path_prefix(), &route_match::path_prefix_mark),
        text("sni", optional_key, &route_match::sni, domain_name(pattern)),
    };
    return rules;
}

const rule_table<route>& route_rules()
{
    static const rule_table<route> rules{
        mapping("match", &route::match, &match_rules),
        text("upstream", required_key, &route::upstream, {}, &route::upstream_mark),
    };
    return rules;
}

field_rule<listener> listen_address_field(std::string_view key, bool need)
{
    return {key, need, [](listener& out, const node& n, context& ctx) {
                auto text = read_scalar(n, ctx, "an address such as 0.0.0.0:8443");
                if (!text) {
                    return;
                }
                auto address = parse_listen_address(*text);
                if (!address) {
                    ctx.error(n.mark, address.error());
                    return;
                }
                out.address = *address;
                out.address.mark = n.mark;
            }};
}

const rule_table<listener>& listener_rules()
{
    static const rule_table<listener> rules{
        text("name", required_key, &listener::name, {}, &listener::name_mark),
        listen_address_field("address", required_key),
        word("protocol", &listener::protocol,
             word_table<listener_protocol>{{"http", listener_protocol::http}, {"tcp", listener_protocol::tcp}}),
        field_rule<listener>{"tls", required_key, [](listener& out, const node& n, context& ctx) {
                                 apply_mapping(out.tls, n, tls_rules(), ctx);
                             }},
        sequence("routes", required_key, &listener::routes, 1, &route_rules),
    };
    return rules;
}

const rule_table<upstream_dane>& dane_rules()
{
    static const word_table<dane_usage> usages{{"dane-ee", dane_usage::dane_ee}, {"dane-ta", dane_usage::dane_ta}};
    static const rule_table<upstream_dane> rules{
        list<upstream_dane, dane_usage>("usages", optional_key, &upstream_dane::usages, 1,
                                        [](const node& n, context& ctx) { return read_word(n, ctx, usages); }),
        boolean("ee_name_checks", &upstream_dane::ee_name_checks),
    };
    return rules;
}

const rule_table<pool_config>& pool_rules()
{
    static const rule_table<pool_config> rules{
        integer("max_idle", &pool_config::max_idle, 0, 65536),
        timespan("idle_timeout", &pool_config::idle_timeout, 1s, 24h),
    };
    return rules;
}

const rule_table<upstream_timeouts>& timeout_rules()
{
    static const rule_table<upstream_timeouts> rules{
        timespan("connect", &upstream_timeouts::connect, 1ms, 10min),
        timespan("response", &upstream_timeouts::response, 1ms, 24h),
    };
    return rules;
}

const rule_table<health_config>& health_rules()
{
    static const rule_table<health_config> rules{
        integer("max_failures", &health_config::max_failures, 1, 1000),
        timespan("retry_after", &health_config::retry_after, 1s, 24h),
    };
    return rules;
}

field_rule<upstream> sni_field()
{
    return {"sni", optional_key, [](upstream& out, const node& n, context& ctx) {
                auto text = read_text(n, ctx, {});
                if (!text) {
                    return;
                }
                out.sni.mark = n.mark;
                if (*text == "host") {
                    out.sni.kind = sni_kind::host;
                    return;
                }
                if (*text == "none") {
                    out.sni.kind = sni_kind::none;
                    return;
                }
                auto name = parse_domain_name(*text);
                if (!name) {
                    ctx.error(n.mark, "expected host, none or a server name: " + name.error());
                    return;
                }
                out.sni.kind = sni_kind::fixed;
                out.sni.name = *name;
            }};
}

std::optional<endpoint_address> read_endpoint(const node& n, context& ctx)
{
    auto text = read_scalar(n, ctx, "an endpoint such as app.corp.example:8443");
    if (!text) {
        return std::nullopt;
    }
    auto address = parse_endpoint_address(*text);
    if (!address) {
        ctx.error(n.mark, address.error());
        return std::nullopt;
    }
    endpoint_address out = *address;
    out.mark = n.mark;
    return out;
}

const rule_table<upstream>& upstream_rules()
{
    static const rule_table<upstream> rules{
        text("name", required_key, &upstream::name, {}, &upstream::name_mark),
        list<upstream, endpoint_address>("endpoints", optional_key, &upstream::endpoints, 1, &read_endpoint,
                                         &upstream::endpoints_mark),
        text("srv", optional_key, &upstream::srv, domain_name({.allow_wildcard = false, .allow_underscore = true}),
             &upstream::srv_mark),
        mapping("dane", &upstream::dane, &dane_rules),
        sni_field(),
        mapping("pool", &upstream::pool, &pool_rules),
        mapping("timeouts", &upstream::timeouts, &timeout_rules),
        mapping("health", &upstream::health, &health_rules),
    };
    return rules;
}

const rule_table<admin_config>& admin_rules()
{
    static const rule_table<admin_config> rules{
        {"address", required_key, [](admin_config& out, const node& n, context& ctx) {
             auto text = read_scalar(n, ctx, "an address such as 127.0.0.1:9901");
             if (!text) {
                 return;
             }
             auto address = parse_listen_address(*text);
             if (!address) {
                 ctx.error(n.mark, address.error());
                 return;
             }
             out.address = *address;
             out.address->mark = n.mark;
         }},
    };
    return rules;
}

const rule_table<log_config>& log_rules()
{
    static const rule_table<log_config> rules{
        word("level", &log_config::level,
             word_table<log_level>{{"trace", log_level::trace}, {"debug", log_level::debug}, {"info", log_level::info},
                                   {"warn", log_level::warn}, {"error", log_level::error},
                                   {"critical", log_level::critical}, {"off", log_level::off}}),
        text("access", optional_key, &log_config::access),
    };
    return rules;
}

const rule_table<limits_config>& limits_rules()
{
    static const rule_table<limits_config> rules{
        integer("max_connections", &limits_config::max_connections, 1, 1'000'000),
        byte_size("header_bytes", &limits_config::header_bytes, 1024, 1024 * 1024),
        timespan("header_timeout", &limits_config::header_timeout, 100ms, 10min),
        timespan("idle_timeout", &limits_config::idle_timeout, 1s, 24h),
    };
    return rules;
}

const rule_table<config>& config_rules()
{
    static const rule_table<config> rules{
        integer("threads", &config::threads, 1, 1024),
        mapping("resolver", &config::resolver, &resolver_rules),
        sequence("listeners", required_key, &config::listeners, 1, &listener_rules),
        sequence("upstreams", required_key, &config::upstreams, 1, &upstream_rules),
        mapping("admin", &config::admin, &admin_rules),
        mapping("log", &config::log, &log_rules),
        mapping("limits", &config::limits, &limits_rules),
        timespan("drain_timeout", &config::drain_timeout, 0s, 1h),
    };
    return rules;
}

std::size_t edit_distance(std::string_view a, std::string_view b)
{
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace

std::string_view closest_word(std::string_view word, const std::vector<std::string_view>& candidates)
{
    std::string_view best;
    std::size_t best_distance = 3;  // farther than 2 edits is a different word, not a typo
    for (auto candidate : candidates) {
        auto d = edit_distance(word, candidate);
        // A shortened key ("max_fails" for "max_failures") is a typo too, however many letters are
        // missing: it shares all but at most its last character with the real one.
        const auto shared = static_cast<std::size_t>(
            std::mismatch(word.begin(), word.end(), candidate.begin(), candidate.end()).first - word.begin());
        if (word.size() >= 4 && shared + 1 >= word.size()) {
            d = std::min<std::size_t>(d, 2);
        }
        if (d < best_distance && d < candidate.size()) {
            best = candidate;
            best_distance = d;
        }
    }
    return best;
}

config apply_schema(const node& root, std::vector<config_error>& errors)
{
    config out;
    context ctx(errors);
    if (root.kind == node_kind::null) {
        errors.push_back(config_error{root.mark, "the configuration is empty; it needs at least 'listeners' and 'upstreams'"});
        out.mark = root.mark;
        return out;
    }
    apply_mapping(out, root, config_rules(), ctx);
    return out;
}

}  // namespace danegate::conf
