#include "issuer/registry_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace m2m {

namespace {

std::string sys_error(const std::string &what, const std::string &path)
{
    return what + " " + path + ": " + std::strerror(errno);
}

class Fd {
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd()
    {
        if (fd_ >= 0) {
            close(fd_);
        }
    }
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    int get() const { return fd_; }
    int release()
    {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

private:
    int fd_;
};

std::string too_large(const std::string &path)
{
    return path + " is larger than " + std::to_string(kMaxRegistrySize) + " bytes";
}

void write_all(int fd, const std::string &text, const std::string &path)
{
    for (size_t done = 0; done < text.size();) {
        const ssize_t n = write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw RegistryFileError(sys_error("cannot write", path));
        }
        done += static_cast<size_t>(n);
    }
}

void write_registry_file(const std::string &path, const Registry &registry, const std::optional<struct stat> &existing,
                         const std::function<void(const std::string &)> &warn)
{
    const std::string text = registry.render();
    Registry check;
    std::string error;
    if (!parse_registry(text, &check, &error)) {
        throw RegistryFileError("refusing to write a registry that would not parse: " + error);
    }

    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    std::string tmp = (slash == std::string::npos ? "" : path.substr(0, slash + 1)) + "." + base + ".XXXXXX";
    Fd fd(mkostemp(&tmp[0], O_CLOEXEC));
    if (fd.get() < 0) {
        throw RegistryFileError(sys_error("cannot create a temporary file in", dir));
    }
    try {
        mode_t mode;
        if (existing) {
            mode = existing->st_mode & 07777;
            if ((existing->st_uid != geteuid() || existing->st_gid != getegid())
                && fchown(fd.get(), existing->st_uid, existing->st_gid) != 0
                && fchown(fd.get(), static_cast<uid_t>(-1), existing->st_gid) != 0) {
                warn(path + " was owned by uid " + std::to_string(existing->st_uid) + " gid "
                     + std::to_string(existing->st_gid) + " and now is not; check that nginx can still read it");
            }
        } else {
            const mode_t mask = umask(0);
            umask(mask);
            mode = 0666 & ~mask;
        }
        if (fchmod(fd.get(), mode) != 0) {
            throw RegistryFileError(sys_error("cannot set the mode of", tmp));
        }
        write_all(fd.get(), text, tmp);
        if (fsync(fd.get()) != 0) {
            throw RegistryFileError(sys_error("cannot fsync", tmp));
        }
        if (close(fd.release()) != 0) {
            throw RegistryFileError(sys_error("cannot close", tmp));
        }
        if (rename(tmp.c_str(), path.c_str()) != 0) {
            throw RegistryFileError(sys_error("cannot rename " + tmp + " to", path));
        }
    } catch (...) {
        unlink(tmp.c_str());
        throw;
    }
    // the rename itself survives a crash only once the directory is synced
    Fd dirfd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dirfd.get() >= 0) {
        fsync(dirfd.get());
    }
}

void lock(int fd, const std::string &lock_path, bool wait)
{
    // A worker retries for about a second: writers hold the lock for the
    // milliseconds of one read-change-write.
    for (int tries = 0;; tries++) {
        if (flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) == 0) {
            return;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EWOULDBLOCK || tries == 100) {
            if (errno == EWOULDBLOCK) {
                throw RegistryBusy(lock_path + " is held by another writer");
            }
            throw RegistryFileError(sys_error("cannot lock", lock_path));
        }
        const struct timespec ten_ms = {0, 10 * 1000 * 1000};
        nanosleep(&ten_ms, nullptr);
    }
}

}  // namespace

Registry read_registry_file(const std::string &path, bool missing_ok, std::optional<struct stat> *existing)
{
    // O_NONBLOCK: a FIFO in the file's place would block open() (in an nginx
    // worker, for the clients API); it is refused below as not a regular
    // file. Reads of a regular file do not care.
    Fd fd(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno == ENOENT && missing_ok) {
            return Registry();
        }
        if (errno == ENOENT) {
            throw RegistryFileError(path + " does not exist (m2m-clients create makes it)");
        }
        throw RegistryFileError(sys_error("cannot open", path));
    }
    struct stat st;
    if (fstat(fd.get(), &st) != 0) {
        throw RegistryFileError(sys_error("cannot stat", path));
    }
    if (!S_ISREG(st.st_mode)) {
        throw RegistryFileError(path + " is not a regular file");
    }
    if (st.st_size > static_cast<off_t>(kMaxRegistrySize)) {
        throw RegistryFileError(too_large(path));
    }
    std::string text;
    char buf[65536];
    for (;;) {
        const ssize_t n = read(fd.get(), buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw RegistryFileError(sys_error("cannot read", path));
        }
        if (n == 0) {
            break;
        }
        text.append(buf, static_cast<size_t>(n));
        if (text.size() > kMaxRegistrySize) {
            throw RegistryFileError(too_large(path));
        }
    }
    Registry registry;
    std::string error;
    if (!parse_registry(text, &registry, &error)) {
        throw RegistryFileError(path + " is not a valid client registry: " + error);
    }
    if (existing) {
        *existing = st;
    }
    return registry;
}

void modify_registry_file(const std::string &path, const std::function<void(Registry &)> &change, bool wait,
                          const std::function<void(const std::string &)> &warn)
{
    const std::string lock_path = path + ".lock";
    int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0 && (errno == EACCES || errno == EROFS)) {
        // a lock file made by another user: flock needs no write access
        fd = open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
    }
    Fd lock_fd(fd);
    if (lock_fd.get() < 0) {
        throw RegistryFileError(sys_error("cannot open the lock file", lock_path));
    }
    lock(lock_fd.get(), lock_path, wait);
    std::optional<struct stat> existing;
    Registry registry = read_registry_file(path, true, &existing);
    change(registry);
    write_registry_file(path, registry, existing, warn);
    // the lock goes with the descriptor
}

}  // namespace m2m
