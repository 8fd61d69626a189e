// m2m-clients: manages a local issuer's client registry file (the
// `clients` of an auth_m2m_issuer block). nginx notices a change within a
// second, without a reload.
//
// Every writer follows registry.h's protocol: an exclusive flock on
// PATH.lock, read, change, write a temporary file in the same directory,
// fsync, rename over PATH. Two runs at once, or a run during a write by the
// clients API, never lose an update, and nginx never reads half a file.
// Secrets are printed once, when they are made; the file holds only their
// salted hashes, and no command prints a hash.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <iostream>
#include <map>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "issuer/registry.h"
#include "issuer/registry_file.h"
#include "verify/scope.h"
#include "json.h"

namespace {

const char kUsage[] =
    "usage: m2m-clients [--file PATH] COMMAND [ARGS]\n"
    "\n"
    "  create --name NAME --scopes \"A B ...\" [--claim KEY=VALUE ...] [--certificate-bound]\n"
    "         [--json]             a new client; prints its id and its secret, once\n"
    "  list                        one line per client: id, status, secrets, scopes, name\n"
    "  show ID                     one client: its fields and its secrets' ids and times\n"
    "  add-secret ID [--expires-in TIME]\n"
    "                              one more secret (at most 5); printed once\n"
    "  remove-secret ID SECRET_ID  that secret stops working\n"
    "  rotate-secret ID [--grace TIME]\n"
    "                              a new secret; the others stop working after TIME\n"
    "                              (default: at once, and they are removed)\n"
    "  disable ID | enable ID      the client is refused tokens, or no longer\n"
    "  bind-certificate ID | unbind-certificate ID\n"
    "                              its tokens are bound to the TLS client certificate\n"
    "                              it requests them with (RFC 8705), or no longer\n"
    "  delete ID                   the client and its secrets are removed\n"
    "\n"
    "The file is --file PATH, or $M2M_CLIENTS; a command that changes it creates it.\n"
    "TIME as nginx writes it: 30s, 10m, 1h, 7d, 2w, 1h30m (y = 365d, M = 30d).\n";

// A failure: one line on stderr, then exit with `status` (1: the file or a
// client; 2: the command line).
struct Failure : std::runtime_error {
    int status;
    Failure(const std::string &what, int code = 1) : std::runtime_error(what), status(code) {}
};

[[noreturn]] void usage_error(const std::string &what) { throw Failure(what + " (m2m-clients --help)", 2); }

// --- the command line ---

struct Args {
    std::string command;
    std::vector<std::string> positional;
    std::map<std::string, std::vector<std::string>> options;  // "--name" -> values
    bool json = false;
    bool certificate_bound = false;  // --certificate-bound

    const std::string *option(const std::string &name) const
    {
        auto it = options.find(name);
        return it == options.end() ? nullptr : &it->second.back();
    }
};

Args parse_args(int argc, char **argv)
{
    static const char *const kWithValue[] = {"--file", "--name", "--scopes", "--claim", "--expires-in", "--grace"};
    Args args;
    for (int i = 1; i < argc; i++) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h" || arg == "help") {
            std::cout << kUsage;
            std::exit(0);
        }
        if (arg == "--json") {
            args.json = true;
            continue;
        }
        if (arg == "--certificate-bound") {
            args.certificate_bound = true;
            continue;
        }
        if (arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
            std::string name = arg, value;
            const size_t eq = arg.find('=');
            bool inline_value = eq != std::string::npos;
            if (inline_value) {
                name = arg.substr(0, eq);
                value = arg.substr(eq + 1);
            }
            bool known = false;
            for (const char *k : kWithValue) {
                known = known || name == k;
            }
            if (!known) {
                usage_error("unknown option " + name);
            }
            if (!inline_value) {
                if (i + 1 >= argc) {
                    usage_error(name + " needs a value");
                }
                value = argv[++i];
            }
            auto &values = args.options[name];
            if (!values.empty() && name != "--claim") {
                usage_error(name + " is given twice");
            }
            values.push_back(value);
            continue;
        }
        if (args.command.empty()) {
            args.command = arg;
        } else {
            args.positional.push_back(arg);
        }
    }
    return args;
}

// Only these options and exactly `positional` arguments for the command.
void expect(const Args &args, size_t positional, std::initializer_list<const char *> allowed, bool json = false)
{
    for (const auto &option : args.options) {
        bool ok = option.first == "--file";
        for (const char *name : allowed) {
            ok = ok || option.first == name;
        }
        if (!ok) {
            usage_error(args.command + " takes no " + option.first);
        }
    }
    if (args.json && !json) {
        usage_error(args.command + " takes no --json");
    }
    if (args.certificate_bound && args.command != "create") {
        usage_error(args.command + " takes no --certificate-bound");
    }
    if (args.positional.size() != positional) {
        usage_error(args.command + (positional == 0   ? " takes no arguments"
                                    : positional == 1 ? " takes a client id"
                                                      : " takes a client id and a secret id"));
    }
}

// nginx's time syntax in seconds: [Ny][NM][Nw][Nd][Nh][Nm][Ns], largest unit
// first, each at most once; a bare number is seconds.
int64_t parse_time(const std::string &option, const std::string &text)
{
    static const struct {
        char unit;
        int64_t seconds;
    } kUnits[] = {{'y', 365 * 86400}, {'M', 30 * 86400}, {'w', 7 * 86400}, {'d', 86400},
                  {'h', 3600},        {'m', 60},         {'s', 1}};
    const auto bad = [&]() -> int64_t { usage_error(option + " \"" + text + "\" is not a time like 30s, 10m, 1h or 7d"); };
    if (text.empty()) {
        bad();
    }
    int64_t total = 0;
    size_t next_unit = 0, i = 0;
    while (i < text.size()) {
        int64_t value = 0;
        const size_t start = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            value = value * 10 + (text[i++] - '0');
            if (value > m2m::kMaxTime) {
                bad();
            }
        }
        if (i == start) {
            bad();
        }
        int64_t seconds = 1;
        if (i < text.size()) {
            size_t u = next_unit;
            while (u < sizeof(kUnits) / sizeof(kUnits[0]) && kUnits[u].unit != text[i]) {
                u++;
            }
            if (u == sizeof(kUnits) / sizeof(kUnits[0]) || (text[i] == 'm' && i + 1 < text.size() && text[i + 1] == 's')) {
                bad();
            }
            seconds = kUnits[u].seconds;
            next_unit = u + 1;
            i++;
        } else if (start != 0 && next_unit == sizeof(kUnits) / sizeof(kUnits[0])) {
            bad();  // "1s5"
        }
        total += value * seconds;
        if (total > m2m::kMaxTime) {
            bad();
        }
    }
    return total;
}

std::string format_time(int64_t t)
{
    const time_t when = static_cast<time_t>(t);
    struct tm tm;
    char buf[32];
    if (!gmtime_r(&when, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        return std::to_string(t);
    }
    return buf;
}

// --- the file ---

std::string registry_path(const Args &args)
{
    if (const std::string *file = args.option("--file")) {
        if (file->empty()) {
            usage_error("--file is empty");
        }
        return *file;
    }
    const char *env = std::getenv("M2M_CLIENTS");
    if (env && *env) {
        return env;
    }
    usage_error("no registry file: give --file PATH or set M2M_CLIENTS");
}

// Every change goes through the writers' protocol of registry_file.h.
void modify(const std::string &path, const std::function<void(m2m::Registry &)> &change)
{
    m2m::modify_registry_file(path, change, true, [](const std::string &warning) {
        std::cerr << "m2m-clients: warning: " << warning << "\n";
    });
}

m2m::Registry read_registry(const std::string &path)
{
    return m2m::read_registry_file(path, false);
}

m2m::Client &client_of(m2m::Registry &registry, const std::string &id)
{
    m2m::Client *client = registry.find(id);
    if (!client) {
        throw Failure("no client \"" + id + "\"");
    }
    return *client;
}

// Secrets that expired no longer work: they only take room.
void drop_expired(m2m::Client &client, int64_t now)
{
    auto &s = client.secrets;
    s.erase(std::remove_if(s.begin(), s.end(),
                           [now](const m2m::ClientSecret &x) { return x.expires_at && *x.expires_at <= now; }),
            s.end());
}

m2m::IssuedSecret issue_secret(m2m::Client &client, int64_t now, std::optional<int64_t> expires_at)
{
    if (client.secrets.size() >= m2m::kMaxSecrets) {
        throw Failure("client \"" + client.client_id + "\" already has " + std::to_string(m2m::kMaxSecrets) +
                      " secrets, the most allowed; remove one first (remove-secret)");
    }
    return m2m::add_secret(&client, now, expires_at);
}

void print_secret(const m2m::IssuedSecret &secret, std::optional<int64_t> expires_at)
{
    std::cout << "secret_id:     " << secret.id << "\n"
              << "client_secret: " << secret.secret << "\n";
    if (expires_at) {
        std::cout << "expires_at:    " << format_time(*expires_at) << "\n";
    }
    std::cout << "The secret is shown only this once: only its hash is stored.\n";
}

// --- the commands ---

int create(const Args &args, const std::string &path)
{
    expect(args, 0, {"--name", "--scopes", "--claim"}, true);
    const std::string *name = args.option("--name");
    const std::string *scope_text = args.option("--scopes");
    if (!name || !scope_text) {
        usage_error("create needs --name and --scopes");
    }
    std::vector<std::string> scopes;
    m2m::for_each_space_separated(*scope_text, [&scopes](std::string_view scope) {
        if (!scope.empty()) {
            scopes.emplace_back(scope);
        }
        return true;
    });
    m2m::JsonPtr claims;
    auto claim_options = args.options.find("--claim");
    if (claim_options != args.options.end()) {
        claims.reset(json_object());
        for (const auto &claim : claim_options->second) {
            const size_t eq = claim.find('=');
            if (eq == std::string::npos || eq == 0) {
                usage_error("--claim \"" + claim + "\" is not KEY=VALUE");
            }
            const std::string key = claim.substr(0, eq), value = claim.substr(eq + 1);
            if (json_object_get(claims.get(), key.c_str())) {
                usage_error("--claim " + key + " is given twice");
            }
            json_t *string = json_stringn(value.data(), value.size());
            if (!string) {
                usage_error("--claim " + key + ": the value is not UTF-8");
            }
            if (json_object_set_new(claims.get(), key.c_str(), string) != 0) {
                usage_error("--claim " + key + ": the name is not UTF-8");
            }
        }
    }
    std::string error;
    if (!m2m::check_client_fields(*name, scopes, claims.get(), &error)) {
        usage_error("cannot create the client: " + error);
    }

    m2m::IssuedSecret secret;
    std::string client_id;
    modify(path, [&](m2m::Registry &registry) {
        m2m::Client client;
        do {
            client = m2m::new_client(*name, scopes, claims ? m2m::JsonPtr(json_deep_copy(claims.get())) : nullptr,
                                     time(nullptr), &secret);
        } while (registry.find(client.client_id));
        client.certificate_bound = args.certificate_bound;
        client_id = client.client_id;
        registry.clients.push_back(std::move(client));
    });

    if (args.json) {
        m2m::JsonPtr out(json_pack("{s:s%, s:s%, s:s%}", "client_id", client_id.data(), client_id.size(),
                                   "client_secret", secret.secret.data(), secret.secret.size(), "secret_id",
                                   secret.id.data(), secret.id.size()));
        const std::string text = out ? m2m::dump_json(out.get(), JSON_COMPACT) : std::string();
        if (text.empty()) {
            throw Failure("out of memory");
        }
        std::cout << text << "\n";
    } else {
        std::cout << "client_id:     " << client_id << "\n";
        print_secret(secret, std::nullopt);
    }
    return 0;
}

std::string joined(const std::vector<std::string> &scopes)
{
    std::optional<std::string> text = m2m::join_scopes(scopes);
    if (!text) {
        throw std::bad_alloc();
    }
    return *text;
}

int list(const Args &args, const std::string &path)
{
    expect(args, 0, {});
    const m2m::Registry registry = read_registry(path);
    for (const auto &c : registry.clients) {
        const std::string scopes = joined(c.scopes);
        std::cout << c.client_id << '\t' << (c.enabled ? "enabled" : "disabled") << '\t' << c.secrets.size()
                  << (c.secrets.size() == 1 ? " secret" : " secrets") << '\t' << (scopes.empty() ? "-" : scopes)
                  << '\t' << c.name << "\n";
    }
    return 0;
}

int show(const Args &args, const std::string &path)
{
    expect(args, 1, {});
    m2m::Registry registry = read_registry(path);
    const m2m::Client &c = client_of(registry, args.positional[0]);
    const int64_t now = time(nullptr);
    const std::string scopes = joined(c.scopes);
    std::cout << "client_id:  " << c.client_id << "\n"
              << "name:       " << c.name << "\n"
              << "enabled:    " << (c.enabled ? "yes" : "no") << "\n"
              << "cert-bound: " << (c.certificate_bound ? "yes" : "no") << "\n"
              << "created_at: " << format_time(c.created_at) << "\n"
              << "scopes:     " << scopes << "\n";
    if (c.claims) {
        std::cout << "claims:     " << m2m::dump_json(c.claims.get(), JSON_COMPACT) << "\n";
    }
    std::cout << "secrets:    " << c.secrets.size() << "\n";
    for (const auto &s : c.secrets) {
        std::cout << "  " << s.id << "  created " << format_time(s.created_at);
        if (s.expires_at) {
            std::cout << "  expires " << format_time(*s.expires_at) << (*s.expires_at <= now ? " (expired)" : "");
        }
        std::cout << "\n";
    }
    return 0;
}

int add_secret(const Args &args, const std::string &path)
{
    expect(args, 1, {"--expires-in"});
    std::optional<int64_t> expires_in;
    if (const std::string *text = args.option("--expires-in")) {
        expires_in = parse_time("--expires-in", *text);
        if (*expires_in == 0) {
            usage_error("--expires-in 0 would make a secret that never works");
        }
    }
    const int64_t now = time(nullptr);
    const std::optional<int64_t> expires_at =
        expires_in ? std::optional<int64_t>(std::min(now + *expires_in, m2m::kMaxTime)) : std::nullopt;
    m2m::IssuedSecret secret;
    modify(path, [&](m2m::Registry &registry) {
        m2m::Client &client = client_of(registry, args.positional[0]);
        drop_expired(client, now);
        secret = issue_secret(client, now, expires_at);
    });
    std::cout << "client_id:     " << args.positional[0] << "\n";
    print_secret(secret, expires_at);
    return 0;
}

int remove_secret(const Args &args, const std::string &path)
{
    expect(args, 2, {});
    modify(path, [&](m2m::Registry &registry) {
        m2m::Client &client = client_of(registry, args.positional[0]);
        auto &s = client.secrets;
        auto it = std::find_if(s.begin(), s.end(), [&](const m2m::ClientSecret &x) { return x.id == args.positional[1]; });
        if (it == s.end()) {
            throw Failure("client \"" + client.client_id + "\" has no secret \"" + args.positional[1] + "\"");
        }
        s.erase(it);
    });
    std::cout << "removed secret " << args.positional[1] << " of client " << args.positional[0] << "\n";
    return 0;
}

int rotate_secret(const Args &args, const std::string &path)
{
    expect(args, 1, {"--grace"});
    int64_t grace = 0;
    if (const std::string *text = args.option("--grace")) {
        grace = parse_time("--grace", *text);
    }
    const int64_t now = time(nullptr);
    const int64_t old_end = std::min(now + grace, m2m::kMaxTime);
    m2m::IssuedSecret secret;
    size_t old = 0;
    modify(path, [&](m2m::Registry &registry) {
        m2m::Client &client = client_of(registry, args.positional[0]);
        drop_expired(client, now);
        old = client.secrets.size();
        if (grace == 0) {
            client.secrets.clear();
        } else {
            for (auto &s : client.secrets) {
                s.expires_at = s.expires_at ? std::min(*s.expires_at, old_end) : old_end;
            }
        }
        secret = issue_secret(client, now, std::nullopt);
    });
    std::cout << "client_id:     " << args.positional[0] << "\n";
    print_secret(secret, std::nullopt);
    if (old == 0) {
        std::cout << "There was no other secret.\n";
    } else if (grace == 0) {
        std::cout << "The other " << old << (old == 1 ? " secret was" : " secrets were") << " removed.\n";
    } else {
        std::cout << "The other " << old << (old == 1 ? " secret stops" : " secrets stop") << " working at "
                  << format_time(old_end) << ".\n";
    }
    return 0;
}

int set_enabled(const Args &args, const std::string &path, bool enabled)
{
    expect(args, 1, {});
    modify(path, [&](m2m::Registry &registry) { client_of(registry, args.positional[0]).enabled = enabled; });
    std::cout << "client " << args.positional[0] << (enabled ? " enabled" : " disabled") << "\n";
    return 0;
}

int set_certificate_bound(const Args &args, const std::string &path, bool bound)
{
    expect(args, 1, {});
    modify(path, [&](m2m::Registry &registry) {
        client_of(registry, args.positional[0]).certificate_bound = bound;
    });
    std::cout << "client " << args.positional[0]
              << (bound ? ": tokens bound to its client certificate" : ": tokens not bound") << "\n";
    return 0;
}

int remove_client(const Args &args, const std::string &path)
{
    expect(args, 1, {});
    modify(path, [&](m2m::Registry &registry) {
        const m2m::Client &client = client_of(registry, args.positional[0]);
        registry.clients.erase(registry.clients.begin() + (&client - registry.clients.data()));
    });
    std::cout << "client " << args.positional[0] << " deleted\n";
    return 0;
}

int run(int argc, char **argv)
{
    const Args args = parse_args(argc, argv);
    if (args.command.empty()) {
        std::cerr << kUsage;
        return 2;
    }
    static const std::map<std::string, std::function<int(const Args &, const std::string &)>> kCommands = {
        {"create", create},
        {"list", list},
        {"show", show},
        {"add-secret", add_secret},
        {"remove-secret", remove_secret},
        {"rotate-secret", rotate_secret},
        {"disable", [](const Args &a, const std::string &p) { return set_enabled(a, p, false); }},
        {"enable", [](const Args &a, const std::string &p) { return set_enabled(a, p, true); }},
        {"bind-certificate", [](const Args &a, const std::string &p) { return set_certificate_bound(a, p, true); }},
        {"unbind-certificate",
         [](const Args &a, const std::string &p) { return set_certificate_bound(a, p, false); }},
        {"delete", remove_client},
    };
    auto command = kCommands.find(args.command);
    if (command == kCommands.end()) {
        usage_error("unknown command \"" + args.command + "\"");
    }
    return command->second(args, registry_path(args));
}

}  // namespace

int main(int argc, char **argv)
{
    try {
        return run(argc, argv);
    } catch (const Failure &failure) {
        std::cerr << "m2m-clients: " << failure.what() << "\n";
        return failure.status;
    } catch (const std::exception &e) {
        std::cerr << "m2m-clients: " << e.what() << "\n";
        return 1;
    }
}
