// JSON access lines; see access_log.hpp.
#include "proxy/access_log.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>

namespace danegate::proxy {

namespace {

// RFC 8259 §7: quote, backslash and control characters are escaped; other bytes pass through.
void append_string(std::string& out, std::string_view text)
{
    out += '"';
    for (char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char escaped[8];
                std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
                out += escaped;
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

void append_field(std::string& out, std::string_view name, std::string_view value)
{
    out += out.size() > 1 ? "," : "";
    append_string(out, name);
    out += ':';
    append_string(out, value);
}

void append_number(std::string& out, std::string_view name, std::uint64_t value)
{
    out += out.size() > 1 ? "," : "";
    append_string(out, name);
    out += ':';
    out += std::to_string(value);
}

std::string iso_time(std::chrono::system_clock::time_point time)
{
    const auto seconds = std::chrono::system_clock::to_time_t(time);
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count() % 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[96];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
    return text;
}

}  // namespace

std::string to_json(const access_record& record)
{
    std::string out = "{";
    append_field(out, "time", iso_time(record.time));
    append_field(out, "client", record.client);
    append_field(out, "sni", record.sni);
    append_field(out, "host", record.host);
    append_field(out, "method", record.method);
    append_field(out, "path", record.path);
    append_number(out, "status", record.status);
    append_number(out, "bytes_in", record.bytes_in);
    append_number(out, "bytes_out", record.bytes_out);
    out += ",\"duration\":" + std::to_string(static_cast<double>(record.duration.count()) / 1e6);
    append_field(out, "upstream", record.upstream);
    append_field(out, "dane", record.dane);
    append_field(out, "matched", record.matched);
    if (!record.detail.empty()) {
        append_field(out, "detail", record.detail);
    }
    out += '}';
    return out;
}

access_log::access_log(const std::string& where)
{
    if (where == "off") {
        return;
    }
    if (where == "stdout") {
        logger_ = std::make_shared<spdlog::logger>("access", std::make_shared<spdlog::sinks::stdout_sink_mt>());
    } else {
        logger_ = std::make_shared<spdlog::logger>("access", std::make_shared<spdlog::sinks::basic_file_sink_mt>(where));
    }
    logger_->set_pattern("%v");
    logger_->set_level(spdlog::level::info);
    logger_->flush_on(spdlog::level::info);
}

access_log::~access_log() = default;

void access_log::write(const access_record& record) const
{
    if (logger_) {
        logger_->info(to_json(record));
    }
}

}  // namespace danegate::proxy
