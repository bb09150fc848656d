# Writes OUTPUT, a C header with two string arrays: pg_migrations (one
# entry per file in MIGRATIONS, in order) and pg_functions (FUNCTIONS).
function(embed_list name files out)
  set(text "static const char *const ${name}[] = {\n")
  foreach(file ${files})
    file(READ ${file} sql)
    string(REPLACE "\\" "\\\\" sql "${sql}")
    string(REPLACE "\"" "\\\"" sql "${sql}")
    string(REPLACE "\n" "\\n\"\n    \"" sql "${sql}")
    get_filename_component(base ${file} NAME)
    string(APPEND text "    /* ${base} */\n    \"${sql}\",\n")
  endforeach()
  string(APPEND text "};\n")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

string(REPLACE "|" ";" MIGRATIONS "${MIGRATIONS}")
string(REPLACE "|" ";" FUNCTIONS "${FUNCTIONS}")
embed_list(pg_migrations "${MIGRATIONS}" migrations)
embed_list(pg_functions "${FUNCTIONS}" functions)
file(WRITE ${OUTPUT} "/* Generated from sql/ by embed_sql.cmake. */\n"
     "${migrations}\n${functions}")
