// The client side of the admin listener for end-to-end tests: plain-HTTP GETs with curl, and a
// reader of the Prometheus text exposition that picks series by name and labels, so a test can
// say "danegate_requests_total{listener=web,code=200} is 25" without depending on label order.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace danegate::test {

struct admin_reply {
    int status = 0;  ///< 0 when no response arrived
    std::string body;
    std::string content_type;
};

/** GET (or what @p extra says) http://127.0.0.1:@p port@p path with curl. */
admin_reply admin_get(std::uint16_t port, const std::string& path, const std::vector<std::string>& extra = {});

/** One parsed exposition. */
class metrics_text {
public:
    using label_set = std::map<std::string, std::string>;

    struct sample {
        std::string name;
        label_set labels;
        double value = 0;
    };

    /** Parses @p exposition; a line that is neither a comment nor a sample throws. */
    explicit metrics_text(const std::string& exposition);

    /** The samples named @p name whose labels include every one of @p subset. */
    std::vector<sample> find(const std::string& name, const label_set& subset = {}) const;

    /** The sum of find(name, subset)'s values (0 when none matches). */
    double sum(const std::string& name, const label_set& subset = {}) const;

    /** The value of the one sample find(name, subset) returns; nullopt when none or several. */
    std::optional<double> value(const std::string& name, const label_set& subset = {}) const;

    /** The `# TYPE` of @p family ("counter", "gauge", "histogram"), or "". */
    std::string type(const std::string& family) const;

private:
    std::vector<sample> samples_;
    std::map<std::string, std::string> types_;
};

/** GET /metrics on @p port and parse it (an empty exposition when the scrape failed). */
metrics_text scrape(std::uint16_t port);

}  // namespace danegate::test
