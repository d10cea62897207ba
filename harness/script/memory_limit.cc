#include "script/memory_limit.h"

#include <algorithm>
#include <cstdlib>

namespace harness {

void* MemoryLimit::Allocate(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* m = static_cast<MemoryLimit*>(ud);
  if (ptr == nullptr) osize = 0;  // for a new object, osize tells its type, not a size
  if (nsize == 0) {
    std::free(ptr);
    m->used_ -= osize;
    return nullptr;
  }
  // Only growth is refused: shrinking a block must always work.
  if (m->enforced_ && nsize > osize && nsize - osize > m->limit_ - std::min(m->used_, m->limit_)) {
    m->refused_ = true;
    return nullptr;
  }
  void* p = std::realloc(ptr, nsize);
  if (p == nullptr) return nullptr;
  m->used_ = m->used_ - osize + nsize;
  return p;
}

MemoryLimit* MemoryLimit::Of(lua_State* L) {
  void* ud = nullptr;
  lua_Alloc f = lua_getallocf(L, &ud);
  return f == &MemoryLimit::Allocate ? static_cast<MemoryLimit*>(ud) : nullptr;
}

}  // namespace harness
