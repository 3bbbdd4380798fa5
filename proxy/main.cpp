// danegate's entry point: command-line parsing and subcommand dispatch, nothing more (DESIGN §2).
// Exit codes: 0 success (authenticated), 1 not authenticated (`check`: the configuration is invalid),
// 2 usage or configuration error.
#include "conf/load.hpp"
#include "dane/tlsa_create.hpp"
#include "dane/tlsa_verify.hpp"
#include "proxy/build_from_config.hpp"
#include "proxy/live_check.hpp"
#include "proxy/resolver_flags.hpp"
#include "proxy/server.hpp"

#include <CLI/CLI.hpp>

#include <openssl/opensslv.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <optional>

namespace {

using namespace danegate;

constexpr int exit_usage = 2;

std::vector<CLI::Option*> add_resolver_flags(CLI::App& command, proxy::resolver_flags& flags)
{
    return {
        command.add_option("--trust-anchor-file", flags.trust_anchor_files, "DS or DNSKEY lines of a trust anchor")
            ->check(CLI::ExistingFile),
        command.add_option("--stub", flags.stubs, "stub zone served by ADDR@PORT (repeatable)")->type_name("ZONE=ADDR@PORT"),
        command.add_option("--forward", flags.forwarders, "forward queries to ADDR@PORT (repeatable)")->type_name("ADDR@PORT"),
        command.add_option("--unbound-conf", flags.unbound_conf, "unbound.conf read by libunbound")->check(CLI::ExistingFile),
    };
}

/** The resolver of `-c FILE` when given, else the one the resolver flags describe. */
dane::result<dane::resolver_options> resolver_from(const std::optional<std::string>& config_file,
                                                   const proxy::resolver_flags& flags)
{
    if (!config_file) {
        return proxy::to_resolver_options(flags);
    }
    const auto loaded = conf::load_config(*config_file);
    if (!loaded.ok()) {
        std::string errors;
        for (const auto& error : loaded.errors) {
            errors += (errors.empty() ? "" : "\n") + error.to_string();
        }
        return dane::make_failure(dane::errc::resolver_setup, errors);
    }
    return proxy::to_resolver_options(loaded.value->resolver);
}

int run_tlsa_create(const dane::tlsa_create_options& options)
{
    auto text = dane::tlsa_create(options);
    if (!text) {
        std::cerr << "danegate: " << text.error().message() << "\n";
        return exit_usage;
    }
    std::cout << *text;
    return 0;
}

int run_tlsa_verify(dane::tlsa_verify_options options, const std::optional<std::string>& config_file,
                    const proxy::resolver_flags& flags, const std::string& starttls)
{
    auto resolver = resolver_from(config_file, flags);
    if (!resolver) {
        std::cerr << "danegate: " << resolver.error().message() << "\n";
        return exit_usage;
    }
    options.resolver = std::move(*resolver);
    options.starttls = starttls == "smtp" ? dane::starttls_protocol::smtp : dane::starttls_protocol::none;
    auto authenticated = dane::tlsa_verify(options, std::cout);
    if (!authenticated) {
        std::cerr << "danegate: " << authenticated.error().message() << "\n";
        return exit_usage;
    }
    return *authenticated ? 0 : 1;
}

/**
 * `danegate check`: every error as FILE:LINE:COL: message on stderr and exit 1, or "ok" and 0.
 * With --live, a valid file's endpoints are then checked as the proxy would (proxy/live_check.hpp):
 * exit 0 only when every one is authenticated.
 */
int run_check(const std::string& file, bool live)
{
    const auto loaded = conf::load_config(file);
    if (!loaded.ok()) {
        for (const auto& error : loaded.errors) {
            std::cerr << error.to_string() << "\n";
        }
        return 1;
    }
    std::cout << "ok\n";
    return live ? proxy::run_live_check(*loaded.value, std::cout, std::cerr) : 0;
}

spdlog::level::level_enum to_spdlog(conf::log_level level)
{
    switch (level) {
    case conf::log_level::trace: return spdlog::level::trace;
    case conf::log_level::debug: return spdlog::level::debug;
    case conf::log_level::info: return spdlog::level::info;
    case conf::log_level::warn: return spdlog::level::warn;
    case conf::log_level::error: return spdlog::level::err;
    case conf::log_level::critical: return spdlog::level::critical;
    case conf::log_level::off: return spdlog::level::off;
    }
    return spdlog::level::info;
}

/** `danegate run`: configuration errors as for `check`, but exit 2 before anything is bound. */
int run_server(const std::string& file)
{
    const auto loaded = conf::load_config(file);
    if (!loaded.ok()) {
        for (const auto& error : loaded.errors) {
            std::cerr << error.to_string() << "\n";
        }
        return exit_usage;
    }
    // Operational logs go to stderr; stdout is the access log's (DESIGN §3 `log.access: stdout`).
    spdlog::set_default_logger(spdlog::stderr_color_mt("danegate"));
    spdlog::set_level(to_spdlog(loaded.value->log.level));
    std::string error;
    auto server = proxy::server::create(loaded.value, error);
    if (!server) {
        spdlog::critical("cannot start: {}", error);
        return exit_usage;
    }
    spdlog::info("danegate {} starting with {}", DANEGATE_VERSION, file);
    return server->run();
}

int print_version()
{
    std::cout << "danegate " << DANEGATE_VERSION << " (" << OPENSSL_VERSION_TEXT << ", libunbound "
              << dane::unbound_resolver::library_version() << ")\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv)
{
    CLI::App app{"danegate: a TLS reverse proxy that authenticates its upstreams with DANE"};
    // Subcommands are checked after parsing, so that an unknown word is named in the error
    // (CLI11's require_subcommand would only say that one is required).
    app.require_subcommand(0, 1);

    auto* version = app.add_subcommand("version", "print the version");

    std::string check_file = "danegate.yaml";
    auto* check = app.add_subcommand("check", "validate a configuration; errors as FILE:LINE:COL: message");
    check->add_option("-c,--config", check_file, "configuration file")->capture_default_str();
    bool check_live = false;
    check->add_flag("--live", check_live, "also resolve, connect to and authenticate every upstream endpoint");

    std::string run_file = "danegate.yaml";
    auto* run = app.add_subcommand("run", "serve; SIGTERM/SIGINT drain and exit");
    run->add_option("-c,--config", run_file, "configuration file")->capture_default_str();

    auto* tlsa = app.add_subcommand("tlsa", "create or verify TLSA records");
    tlsa->require_subcommand(0, 1);

    dane::tlsa_create_options create;
    std::string host;
    std::uint16_t port = 0;
    unsigned usage = 3;
    unsigned selector = 1;
    unsigned mtype = 1;
    auto* create_cmd = tlsa->add_subcommand("create", "print the TLSA record matching a certificate");
    create_cmd->add_option("--cert", create.cert_file, "PEM certificate")->required()->check(CLI::ExistingFile);
    create_cmd->add_option("--usage", usage, "certificate usage")->check(CLI::Range(0, 255))->capture_default_str();
    create_cmd->add_option("--selector", selector, "0 certificate, 1 SubjectPublicKeyInfo")
        ->check(CLI::Range(0, 1))->capture_default_str();
    create_cmd->add_option("--mtype", mtype, "0 full, 1 SHA2-256, 2 SHA2-512")->check(CLI::Range(0, 2))->capture_default_str();
    auto* host_opt = create_cmd->add_option("--host", host, "print a zone-file line for this host");
    auto* port_opt = create_cmd->add_option("--port", port, "service port")->check(CLI::Range(1, 65535));
    host_opt->needs(port_opt);
    port_opt->needs(host_opt);
    create_cmd->add_option("--proto", create.proto, "transport protocol")->check(CLI::IsMember({"tcp", "udp", "sctp"}))
        ->capture_default_str();
    create_cmd->add_option("--ttl", create.ttl, "TTL of the zone-file line")->check(CLI::Range(0u, 2147483647u))
        ->capture_default_str();

    dane::tlsa_verify_options verify;
    proxy::resolver_flags flags;
    std::string starttls = "none";
    auto* verify_cmd = tlsa->add_subcommand("verify", "validate HOST's TLSA records and authenticate its certificate");
    verify_cmd->add_option("HOST", verify.host, "host name")->required();
    verify_cmd->add_option("PORT", verify.port, "TCP port")->required()->check(CLI::Range(1, 65535));
    verify_cmd->add_option("--starttls", starttls, "upgrade a plaintext protocol first")
        ->check(CLI::IsMember({"none", "smtp"}));
    std::optional<std::string> verify_config;
    auto* config_opt = verify_cmd->add_option("-c,--config", verify_config, "take the resolver from this configuration");
    for (CLI::Option* flag : add_resolver_flags(*verify_cmd, flags)) {
        config_opt->excludes(flag);
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        const int code = app.exit(error);
        return code == 0 ? 0 : exit_usage;
    }

    for (CLI::App* command : {&app, tlsa}) {
        if (command->parsed() && command->get_subcommands().empty()) {
            const auto extra = command->remaining();
            std::cerr << "danegate: " << (extra.empty() ? "a subcommand is required" : "unknown subcommand \"" + extra.front() + "\"")
                      << "\n" << command->help();
            return exit_usage;
        }
    }
    if (*version) {
        return print_version();
    }
    if (*check) {
        return run_check(check_file, check_live);
    }
    if (*run) {
        return run_server(run_file);
    }
    if (*create_cmd) {
        create.usage = static_cast<std::uint8_t>(usage);
        create.selector = static_cast<std::uint8_t>(selector);
        create.matching_type = static_cast<std::uint8_t>(mtype);
        if (*host_opt) {
            create.host = host;
            create.port = port;
        }
        return run_tlsa_create(create);
    }
    return run_tlsa_verify(std::move(verify), verify_config, flags, starttls);
}
