// The registry file's writers' protocol, shared by m2m-clients and the
// clients API: an exclusive flock on PATH.lock (a sibling, so the lock
// outlives the rename), read, change, write a temporary file in the same
// directory, fsync, rename over PATH, fsync the directory. Two writers at
// once never lose an update, and a reader (nginx) never sees half a file.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include <sys/stat.h>

#include "issuer/registry.h"

namespace m2m {

// Why the file could not be read or written: one line naming the file,
// never its content.
struct RegistryFileError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The lock is held by another writer and `wait` was false.
struct RegistryBusy : RegistryFileError {
    using RegistryFileError::RegistryFileError;
};

// The registry in the file. A missing file is an empty registry if
// missing_ok (*existing then stays unset), else an error. Throws
// RegistryFileError.
Registry read_registry_file(const std::string &path, bool missing_ok, std::optional<struct stat> *existing = nullptr);

// Runs `change` on the registry under the writers' lock and writes the
// result; `change` throws to leave the file as it was. With wait false (an
// nginx worker, which must not block its event loop for long) a lock held
// elsewhere is retried for about a second, then RegistryBusy. A created
// file gets 0666 & ~umask; a replaced one keeps its mode and, where
// allowed, its owner and group (nginx must go on reading it): `warn` is
// told when it could not. Throws RegistryFileError, or what change throws.
void modify_registry_file(const std::string &path, const std::function<void(Registry &)> &change, bool wait,
                          const std::function<void(const std::string &)> &warn);

}  // namespace m2m
