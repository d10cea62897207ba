# Writes OUT: a C++ file that holds every .lua file under SRC as a string, keyed by its
# module name (lua/harness/recipe.lua -> "harness.recipe").
file(GLOB_RECURSE files RELATIVE ${SRC} ${SRC}/*.lua)
list(SORT files)
set(body "// Generated from lua/ by cmake/embed_lua.cmake. Do not edit.\n#include \"script/library.h\"\n\nnamespace harness {\n\nconst std::vector<EmbeddedModule>& EmbeddedLuaModules() {\n  static const std::vector<EmbeddedModule> modules = {\n")
foreach(f ${files})
  file(READ ${SRC}/${f} content)
  string(REGEX REPLACE "\\.lua$" "" mod ${f})
  string(REPLACE "/" "." mod ${mod})
  string(APPEND body "    {\"${mod}\", \"lua/${f}\", R\"__LUA__(${content})__LUA__\"},\n")
endforeach()
string(APPEND body "  };\n  return modules;\n}\n\n}  // namespace harness\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
