// The native fast path of the parse (pipeline/ingest/native.py loads it): a block of JSON lines
// -> the typed columns of the lines it accepts, and the indexes of the lines it refuses.
//
// A line is accepted only when the strict path (parse.py) would accept it unchanged: one JSON
// object (or an API envelope {"data": {...}} and nothing else), every key known (top level and in
// each provider attempt), no key twice, each value of its declared JSON type (null only where the
// field is nullable), nothing after the object, valid UTF-8 (simdjson checks the whole line).
// Anything doubtful (an escaped key, an integer written as 12.0, a timestamp in another form than
// the API's, a number beyond int64) is refused: the strict path then decides and explains.
//
// Built on simdjson's On-Demand API (the system library, linked with -lsimdjson); the columns are
// written into plain buffers whose storage is handed to Python through the buffer protocol (no
// copy, no Python object per value), and the GIL is released while a block is parsed. One Parser
// parses one block at a time (a second caller meanwhile gets RuntimeError).

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <simdjson.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#define ORUSAGE_STR_(x) #x
#define ORUSAGE_STR(x) ORUSAGE_STR_(x)

using namespace simdjson;

namespace {

enum Kind : int { K_STRING = 0, K_INT = 1, K_FLOAT = 2, K_BOOL = 3, K_TIMESTAMP = 4, K_ATTEMPTS = 5 };

// --- a buffer owned by C++ memory, exposed to Python (and Arrow) without a copy --------------

struct NativeBuffer {
  PyObject_HEAD
  void *owner;               // the container whose storage `data` points into
  void (*release)(void *);   // frees `owner`
  char *data;
  Py_ssize_t size;
};

void buffer_dealloc(NativeBuffer *self) {
  if (self->owner != nullptr) self->release(self->owner);
  Py_TYPE(self)->tp_free(reinterpret_cast<PyObject *>(self));
}

int buffer_get(NativeBuffer *self, Py_buffer *view, int flags) {
  return PyBuffer_FillInfo(view, reinterpret_cast<PyObject *>(self), self->data, self->size, 1, flags);
}

PyBufferProcs buffer_procs = {reinterpret_cast<getbufferproc>(buffer_get), nullptr};

PyTypeObject NativeBufferType = {PyVarObject_HEAD_INIT(nullptr, 0)};

// A Python buffer that takes over the storage of `values` (moved, not copied).
template <class V>
PyObject *adopt(V &values) {
  NativeBuffer *out = PyObject_New(NativeBuffer, &NativeBufferType);
  if (out == nullptr) return nullptr;
  V *owner = new V(std::move(values));
  values = V();
  out->owner = owner;
  out->release = [](void *o) { delete static_cast<V *>(o); };
  static char empty = 0;  // Python wants a pointer even for no bytes
  out->data = owner->empty() ? &empty : reinterpret_cast<char *>(owner->data());
  out->size = static_cast<Py_ssize_t>(owner->size() * sizeof(typename V::value_type));
  return reinterpret_cast<PyObject *>(out);
}

// Bytes of one-per-value flags packed into an Arrow bitmap (LSB first).
std::vector<uint8_t> pack_bits(const std::vector<uint8_t> &flags) {
  std::vector<uint8_t> bits((flags.size() + 7) / 8, 0);
  for (size_t i = 0; i < flags.size(); i++) {
    if (flags[i]) bits[i >> 3] |= static_cast<uint8_t>(1u << (i & 7));
  }
  return bits;
}

// --- columns -----------------------------------------------------------------------------------

struct Column {
  int kind = K_STRING;
  bool nullable = true;
  bool absent_ok = true;
  std::vector<uint8_t> valid;   // one flag per row
  std::vector<int64_t> i64;     // int, timestamp (UTC microseconds)
  std::vector<double> f64;      // float
  std::vector<uint8_t> flags;   // bool values, one per row
  std::vector<int32_t> offsets{0};  // string chars, or attempts (list offsets)
  std::string chars;
  bool seen = false;  // the key was met in the current object

  size_t rows() const { return valid.size(); }

  void truncate(size_t n) {
    valid.resize(n);
    switch (kind) {
      case K_INT:
      case K_TIMESTAMP: i64.resize(n); break;
      case K_FLOAT: f64.resize(n); break;
      case K_BOOL: flags.resize(n); break;
      case K_STRING:
        if (offsets.empty()) offsets.push_back(0);
        chars.resize(static_cast<size_t>(offsets[n]));
        offsets.resize(n + 1);
        break;
      case K_ATTEMPTS:
        if (offsets.empty()) offsets.push_back(0);
        offsets.resize(n + 1);
        break;
    }
  }

  void append_null() {
    valid.push_back(0);
    switch (kind) {
      case K_INT:
      case K_TIMESTAMP: i64.push_back(0); break;
      case K_FLOAT: f64.push_back(0.0); break;
      case K_BOOL: flags.push_back(0); break;
      case K_STRING:
      case K_ATTEMPTS: offsets.push_back(offsets.back()); break;
    }
  }

  size_t null_count() const {
    size_t n = 0;
    for (uint8_t v : valid) n += v == 0;
    return n;
  }
};

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool digits(std::string_view s, size_t at, size_t n, int &out) {
  int v = 0;
  for (size_t i = at; i < at + n; i++) {
    const char c = s[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

// An instant in the forms the API writes, `YYYY-MM-DDTHH:MM:SS[.f{1,6}]` then `Z` or `+HH:MM` /
// `-HH:MM`, as UTC microseconds; any other form (no zone, a space, more digits, a leap second,
// an offset without its colon) is left to the strict path.
bool parse_instant(std::string_view s, int64_t &micros) {
  int64_t offset_minutes = 0;
  if (!s.empty() && s.back() == 'Z') {
    s.remove_suffix(1);
  } else if (s.size() > 6 && (s[s.size() - 6] == '+' || s[s.size() - 6] == '-') && s[s.size() - 3] == ':') {
    int oh, om;
    if (!digits(s, s.size() - 5, 2, oh) || !digits(s, s.size() - 2, 2, om) || oh > 18 || om > 59) return false;
    offset_minutes = (oh * 60 + om) * (s[s.size() - 6] == '-' ? -1 : 1);
    s.remove_suffix(6);
  } else {
    return false;
  }
  if (s.size() < 19 || s.size() > 26) return false;
  int y, mo, d, h, mi, se;
  if (!digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' || !digits(s, 8, 2, d) || s[10] != 'T' ||
      !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se))
    return false;
  int64_t frac = 0;
  if (s.size() > 19) {
    const size_t n = s.size() - 20;  // digits after the point
    int part;
    if (s[19] != '.' || n < 1 || !digits(s, 20, n, part)) return false;
    frac = part;
    for (size_t i = n; i < 6; i++) frac *= 10;
  }
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return false;
  static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  const int last = month_days[mo - 1] + (mo == 2 && leap ? 1 : 0);
  if (d > last) return false;
  const int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const int64_t seconds = ((days * 24 + h) * 60 + mi) * 60 + se - offset_minutes * 60;
  micros = seconds * 1000000 + frac;
  return true;
}

// The raw bytes of a key (between its quotes), or false when it holds an escape.
bool plain_key(const ondemand::raw_json_string &raw, std::string_view &key) {
  const char *start = raw.raw();
  const char *p = start;
  while (*p != '"') {
    if (*p == '\\') return false;
    p++;
  }
  key = std::string_view(start, static_cast<size_t>(p - start));
  return true;
}

struct Refused {};  // thrown inside a line's parse: the line goes to the strict path

class Parser {
 public:
  std::vector<Column> top;
  std::vector<Column> attempts;
  std::unordered_map<std::string_view, int> top_index;
  std::unordered_map<std::string_view, int> attempt_index;
  std::vector<std::string> names;  // owns the map keys
  int attempts_col = -1;
  ondemand::parser parser;
  padded_string line_buf;
  std::vector<int64_t> accepted;
  std::vector<int64_t> refused;
  size_t rows = 0;
  std::atomic<bool> busy{false};

  void reset() {
    for (auto &c : top) c.truncate(0);
    for (auto &c : attempts) c.truncate(0);
    accepted.clear();
    refused.clear();
    rows = 0;
  }

  void scalar(Column &c, ondemand::value v) {
    ondemand::json_type type;
    if (v.type().get(type)) throw Refused();
    if (type == ondemand::json_type::null) {
      bool is_null = false;
      if (v.is_null().get(is_null) || !is_null || !c.nullable) throw Refused();
      c.append_null();
      return;
    }
    switch (c.kind) {
      case K_STRING: {
        std::string_view s;
        if (type != ondemand::json_type::string || v.get_string().get(s)) throw Refused();
        if (c.chars.size() + s.size() > static_cast<size_t>(INT32_MAX)) throw Refused();
        c.chars.append(s.data(), s.size());
        c.offsets.push_back(static_cast<int32_t>(c.chars.size()));
        break;
      }
      case K_TIMESTAMP: {
        std::string_view s;
        int64_t micros;
        if (type != ondemand::json_type::string || v.get_string().get(s) || !parse_instant(s, micros)) throw Refused();
        c.i64.push_back(micros);
        break;
      }
      case K_INT: {
        ondemand::number_type nt;
        int64_t x;
        if (type != ondemand::json_type::number || v.get_number_type().get(nt) || nt != ondemand::number_type::signed_integer ||
            v.get_int64().get(x))
          throw Refused();
        c.i64.push_back(x);
        break;
      }
      case K_FLOAT: {
        ondemand::number_type nt;
        if (type != ondemand::json_type::number || v.get_number_type().get(nt)) throw Refused();
        double x;
        if (nt == ondemand::number_type::signed_integer) {
          int64_t i;
          if (v.get_int64().get(i)) throw Refused();
          x = static_cast<double>(i);  // as the strict path: an integer, then a double
        } else if (nt == ondemand::number_type::unsigned_integer) {
          uint64_t u;
          if (v.get_uint64().get(u)) throw Refused();
          x = static_cast<double>(u);
        } else if (nt == ondemand::number_type::floating_point_number) {
          if (v.get_double().get(x)) throw Refused();
        } else {
          throw Refused();  // beyond 64 bits
        }
        c.f64.push_back(x);
        break;
      }
      case K_BOOL: {
        bool b;
        if (type != ondemand::json_type::boolean || v.get_bool().get(b)) throw Refused();
        c.flags.push_back(b ? 1 : 0);
        break;
      }
      default: throw Refused();
    }
    c.valid.push_back(1);
  }

  void attempt_list(Column &c, ondemand::value v) {
    ondemand::json_type type;
    if (v.type().get(type)) throw Refused();
    if (type == ondemand::json_type::null) {
      bool is_null = false;
      if (v.is_null().get(is_null) || !is_null || !c.nullable) throw Refused();
      c.append_null();
      return;
    }
    if (type != ondemand::json_type::array) throw Refused();
    ondemand::array items;
    if (v.get_array().get(items)) throw Refused();
    int32_t count = 0;
    for (auto item : items) {
      ondemand::value element;
      if (std::move(item).get(element)) throw Refused();
      ondemand::object member_obj;
      if (element.get_object().get(member_obj)) throw Refused();
      for (auto &a : attempts) a.seen = false;
      for (auto member : member_obj) {
        ondemand::field f;
        if (std::move(member).get(f)) throw Refused();
        std::string_view key;
        if (!plain_key(f.key(), key)) throw Refused();
        auto at = attempt_index.find(key);
        if (at == attempt_index.end()) throw Refused();  // an unknown member: the strict path keeps it
        Column &a = attempts[at->second];
        if (a.seen) throw Refused();
        a.seen = true;
        scalar(a, f.value());
      }
      for (auto &a : attempts) {
        if (!a.seen) a.append_null();
      }
      count++;
    }
    if (static_cast<int64_t>(c.offsets.back()) + count > INT32_MAX) throw Refused();
    c.offsets.push_back(c.offsets.back() + count);
    c.valid.push_back(1);
  }

  void record_field(ondemand::field &f) {
    std::string_view key;
    if (!plain_key(f.key(), key)) throw Refused();
    auto at = top_index.find(key);
    if (at == top_index.end()) throw Refused();  // an unknown key: the strict path keeps it in _extra
    Column &c = top[at->second];
    if (c.seen) throw Refused();
    c.seen = true;
    if (c.kind == K_ATTEMPTS) {
      attempt_list(c, f.value());
    } else {
      scalar(c, f.value());
    }
  }

  void record(ondemand::object obj) {
    for (auto item : obj) {
      ondemand::field f;
      if (std::move(item).get(f)) throw Refused();
      record_field(f);
    }
  }

  // Parse one line into the columns; false (and nothing added) when it is refused.
  bool line(const char *data, size_t size) {
    if (size == 0) return false;
    if (line_buf.size() < size) line_buf = padded_string(size * 2);
    std::memcpy(line_buf.data(), data, size);
    std::memset(line_buf.data() + size, 0, SIMDJSON_PADDING);
    const size_t attempt_rows = attempts.empty() ? 0 : attempts[0].rows();
    for (auto &c : top) c.seen = false;
    try {
      ondemand::document doc;
      if (parser.iterate(line_buf.data(), size, line_buf.size() + SIMDJSON_PADDING).get(doc)) throw Refused();
      ondemand::object obj;
      if (doc.get_object().get(obj)) throw Refused();
      bool first = true, enveloped = false;
      for (auto item : obj) {
        ondemand::field f;
        if (std::move(item).get(f)) throw Refused();
        if (enveloped) throw Refused();  // an envelope holds `data` and nothing else
        std::string_view key;
        if (!plain_key(f.key(), key)) throw Refused();
        if (first && key == "data" && top_index.find(key) == top_index.end()) {
          ondemand::object inner;
          if (f.value().get_object().get(inner)) throw Refused();
          record(inner);
          enveloped = true;
        } else {
          record_field(f);
        }
        first = false;
      }
      // Nothing may follow the object: the document must be at its end.
      const char *where = nullptr;
      if (doc.current_location().get(where) != OUT_OF_BOUNDS) throw Refused();
      for (auto &c : top) {
        if (!c.seen) {
          if (!c.absent_ok || !c.nullable) throw Refused();
          c.append_null();
        }
      }
    } catch (Refused &) {
      for (auto &c : top) c.truncate(rows);
      for (auto &a : attempts) a.truncate(attempt_rows);
      return false;
    }
    rows++;
    return true;
  }

  void block(const char *data, size_t size) {
    size_t start = 0;
    int64_t index = 0;
    while (start < size) {
      const void *nl = std::memchr(data + start, '\n', size - start);
      const size_t end = nl ? static_cast<size_t>(static_cast<const char *>(nl) - data) : size;
      if (line(data + start, end - start)) {
        accepted.push_back(index);
      } else {
        refused.push_back(index);
      }
      index++;
      start = end + 1;
    }
  }
};

// --- Python ------------------------------------------------------------------------------------

struct PyParser {
  PyObject_HEAD
  Parser *parser;
};

void parser_dealloc(PyParser *self) {
  delete self->parser;
  Py_TYPE(self)->tp_free(reinterpret_cast<PyObject *>(self));
}

bool read_spec(PyObject *spec, std::vector<Column> &cols, std::vector<std::string> &names) {
  PyObject *seq = PySequence_Fast(spec, "a field spec must be a sequence");
  if (seq == nullptr) return false;
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  for (Py_ssize_t i = 0; i < n; i++) {
    const char *name;
    int kind, nullable, absent_ok;
    if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "sipp", &name, &kind, &nullable, &absent_ok)) {
      Py_DECREF(seq);
      return false;
    }
    Column c;
    c.kind = kind;
    c.nullable = nullable;
    c.absent_ok = absent_ok;
    cols.push_back(std::move(c));
    names.emplace_back(name);
  }
  Py_DECREF(seq);
  return true;
}

int parser_init(PyParser *self, PyObject *args, PyObject *) {
  PyObject *top_spec, *attempt_spec;
  if (!PyArg_ParseTuple(args, "OO", &top_spec, &attempt_spec)) return -1;
  auto *p = new Parser();
  std::vector<std::string> top_names, attempt_names;
  if (!read_spec(top_spec, p->top, top_names) || !read_spec(attempt_spec, p->attempts, attempt_names)) {
    delete p;
    return -1;
  }
  p->names.reserve(top_names.size() + attempt_names.size());
  for (size_t i = 0; i < top_names.size(); i++) {
    p->names.push_back(top_names[i]);
    if (p->top[i].kind == K_ATTEMPTS) p->attempts_col = static_cast<int>(i);
  }
  for (auto &n : attempt_names) p->names.push_back(n);
  for (size_t i = 0; i < top_names.size(); i++) p->top_index.emplace(std::string_view(p->names[i]), static_cast<int>(i));
  for (size_t i = 0; i < attempt_names.size(); i++)
    p->attempt_index.emplace(std::string_view(p->names[top_names.size() + i]), static_cast<int>(i));
  delete self->parser;
  self->parser = p;
  return 0;
}

// (null_count, validity bitmap or None, buffers...) of one column; its storage is handed over.
PyObject *column_out(Column &c) {
  const size_t nulls = c.null_count();
  PyObject *validity;
  if (nulls) {
    std::vector<uint8_t> bits = pack_bits(c.valid);
    validity = adopt(bits);
  } else {
    validity = Py_NewRef(Py_None);
  }
  PyObject *a = nullptr, *b = Py_NewRef(Py_None);
  switch (c.kind) {
    case K_INT:
    case K_TIMESTAMP: a = adopt(c.i64); break;
    case K_FLOAT: a = adopt(c.f64); break;
    case K_BOOL: {
      std::vector<uint8_t> bits = pack_bits(c.flags);
      a = adopt(bits);
      break;
    }
    case K_STRING:
      a = adopt(c.offsets);
      Py_DECREF(b);
      b = adopt(c.chars);
      break;
    case K_ATTEMPTS: a = adopt(c.offsets); break;
  }
  if (validity == nullptr || a == nullptr || b == nullptr) {
    Py_XDECREF(validity);
    Py_XDECREF(a);
    Py_XDECREF(b);
    return nullptr;
  }
  return Py_BuildValue("(nNNN)", static_cast<Py_ssize_t>(nulls), validity, a, b);
}

PyObject *parse_locked(Parser *p, Py_buffer &view);

PyObject *parser_parse(PyParser *self, PyObject *args) {
  Py_buffer view;
  if (!PyArg_ParseTuple(args, "y*", &view)) return nullptr;
  Parser *p = self->parser;
  if (p == nullptr || p->busy.exchange(true)) {
    PyBuffer_Release(&view);
    PyErr_SetString(PyExc_RuntimeError, p == nullptr ? "parser not initialised" : "parser in use by another thread");
    return nullptr;
  }
  PyObject *result = parse_locked(p, view);
  p->busy.store(false);
  return result;
}

PyObject *parse_locked(Parser *p, Py_buffer &view) {
  bool failed = false;
  std::string message;
  Py_BEGIN_ALLOW_THREADS;
  try {
    p->reset();
    p->block(static_cast<const char *>(view.buf), static_cast<size_t>(view.len));
  } catch (std::exception &exc) {
    failed = true;
    message = exc.what();
  }
  Py_END_ALLOW_THREADS;
  PyBuffer_Release(&view);
  if (failed) {
    PyErr_SetString(PyExc_MemoryError, message.c_str());
    return nullptr;
  }
  PyObject *top = PyList_New(static_cast<Py_ssize_t>(p->top.size()));
  if (top == nullptr) return nullptr;
  for (size_t i = 0; i < p->top.size(); i++) {
    PyObject *col = column_out(p->top[i]);
    if (col == nullptr) {
      Py_DECREF(top);
      return nullptr;
    }
    PyList_SET_ITEM(top, static_cast<Py_ssize_t>(i), col);
  }
  PyObject *members = PyList_New(static_cast<Py_ssize_t>(p->attempts.size()));
  if (members == nullptr) {
    Py_DECREF(top);
    return nullptr;
  }
  for (size_t i = 0; i < p->attempts.size(); i++) {
    PyObject *col = column_out(p->attempts[i]);
    if (col == nullptr) {
      Py_DECREF(top);
      Py_DECREF(members);
      return nullptr;
    }
    PyList_SET_ITEM(members, static_cast<Py_ssize_t>(i), col);
  }
  const size_t n_attempts = p->attempts.empty() ? 0 : p->attempts[0].rows();
  PyObject *result = Py_BuildValue(
      "{s:n,s:N,s:N,s:N,s:N,s:n}", "rows", static_cast<Py_ssize_t>(p->rows), "accepted", adopt(p->accepted), "refused",
      adopt(p->refused), "columns", top, "attempts", members, "attempt_rows", static_cast<Py_ssize_t>(n_attempts));
  p->reset();  // the columns were handed over
  return result;
}

PyMethodDef parser_methods[] = {
    {"parse", reinterpret_cast<PyCFunction>(parser_parse), METH_VARARGS,
     "parse(block) -> dict: the typed columns of the accepted lines, and the indexes of accepted and refused lines."},
    {nullptr, nullptr, 0, nullptr},
};

PyTypeObject ParserType = {PyVarObject_HEAD_INIT(nullptr, 0)};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "jsonl_native", "Strict JSON lines -> typed columns (simdjson On-Demand).", -1,
                          nullptr};

}  // namespace

PyMODINIT_FUNC PyInit_jsonl_native(void) {
  NativeBufferType.tp_name = "jsonl_native.Buffer";
  NativeBufferType.tp_basicsize = sizeof(NativeBuffer);
  NativeBufferType.tp_flags = Py_TPFLAGS_DEFAULT;
  NativeBufferType.tp_dealloc = reinterpret_cast<destructor>(buffer_dealloc);
  NativeBufferType.tp_as_buffer = &buffer_procs;
  NativeBufferType.tp_doc = "Memory filled by the parser, readable through the buffer protocol.";
  if (PyType_Ready(&NativeBufferType) < 0) return nullptr;

  ParserType.tp_name = "jsonl_native.Parser";
  ParserType.tp_basicsize = sizeof(PyParser);
  ParserType.tp_flags = Py_TPFLAGS_DEFAULT;
  ParserType.tp_new = PyType_GenericNew;
  ParserType.tp_init = reinterpret_cast<initproc>(parser_init);
  ParserType.tp_dealloc = reinterpret_cast<destructor>(parser_dealloc);
  ParserType.tp_methods = parser_methods;
  ParserType.tp_doc = "Parser(fields, attempt_fields): each a list of (name, kind, nullable, absent_ok).";
  if (PyType_Ready(&ParserType) < 0) return nullptr;

  PyObject *m = PyModule_Create(&module_def);
  if (m == nullptr) return nullptr;
  Py_INCREF(&ParserType);
  if (PyModule_AddObject(m, "Parser", reinterpret_cast<PyObject *>(&ParserType)) < 0) {
    Py_DECREF(&ParserType);
    Py_DECREF(m);
    return nullptr;
  }
  PyModule_AddStringConstant(m, "SIMDJSON_VERSION", ORUSAGE_STR(SIMDJSON_VERSION));
  return m;
}
