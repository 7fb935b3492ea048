# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""SIP message scanner: the first, framing-level pass over a SIP message (RFC 3261 §7, §18.3, §25).

One pass in C over the bytes splits the start line, the header fields and the body. Each header
field is kept as a small C record of offsets into the message bytes (name, value, a "folded" flag)
plus the id of its canonical name; Python objects (names, values, the body) are made only when
asked for. Header values are not interpreted beyond unfolding and trimming: that is the job of the
header parsers built on top of this module.

``scan()`` takes one complete message (a datagram). ``StreamFramer`` cuts messages out of a byte
stream (TCP/TLS) by Content-Length and counts CRLF keep-alives (RFC 5626 §3.5.1).

Rules of the scanner (what it accepts and rejects):
  * lines end in CRLF; a bare LF is tolerated; a CR not followed by LF is an error;
  * datagrams: CRLFs before the start line are skipped (RFC 3261 §7.5);
  * Request-Line is ``token SP Request-URI SP SIP/2.0`` with single SPs; Status-Line is
    ``SIP/2.0 SP 3DIGIT [SP Reason-Phrase]`` with the code in 100..699; the version is compared
    case-insensitively and anything but SIP/2.0 is rejected;
  * a header field is ``token *WSP ":" value``; a line starting with SP/HTAB continues the value of
    the field above it; the header section ends at the first empty line;
  * Content-Length, when present, is 1*DIGIT; several Content-Length fields must agree; on a
    datagram the body is Content-Length bytes (extra bytes are ignored, missing bytes are an
    error) or, without Content-Length, the rest of the datagram; on a stream Content-Length is
    mandatory.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int16_t, uint8_t, uint16_t, uint32_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memchr, memcmp, memcpy

cimport cython

cdef extern from "Python.h":
    char* PyByteArray_AS_STRING(object o)
    Py_ssize_t PyByteArray_GET_SIZE(object o)
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)
    object PyUnicode_DecodeLatin1(const char* s, Py_ssize_t size, const char* errors)


__all__ = [
    "CANONICAL_HEADER_NAMES",
    "COMPACT_FORMS",
    "SIPScanError",
    "ScannedMessage",
    "StreamFramer",
    "scan",
]


class SIPScanError(ValueError):
    """A message could not be framed: bad start line, header section, size or Content-Length.

    ``reason`` says what is wrong and ``offset`` where (a byte offset into the datagram, or into
    the whole stream for :class:`StreamFramer`; ``None`` when there is no single place).
    """

    #: For errors raised by StreamFramer.feed(): the messages that the same call completed
    #: before the error (the transport may still handle them before it closes the connection).
    messages = ()

    def __init__(self, reason, offset=None):
        self.reason = reason
        self.offset = offset
        ValueError.__init__(self, reason if offset is None else f"{reason} (at byte {offset})")


# ---------------------------------------------------------------------------------------------
# Header name tables (shared with the header registry built on top of this module)
# ---------------------------------------------------------------------------------------------

_HEADER_NAMES = (
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Accept-Resource-Priority",
    "Alert-Info", "Allow", "Allow-Events", "Answer-Mode", "Authentication-Info", "Authorization",
    "Call-ID", "Call-Info", "Contact", "Content-Disposition", "Content-Encoding", "Content-ID",
    "Content-Language", "Content-Length", "Content-Transfer-Encoding", "Content-Type", "CSeq",
    "Date", "Error-Info", "Event", "Expires", "Feature-Caps", "Flow-Timer", "From", "Geolocation",
    "Geolocation-Error", "Geolocation-Routing", "History-Info", "Identity", "Identity-Info",
    "Info-Package", "In-Reply-To", "Join", "Max-Breadth", "Max-Forwards", "MIME-Version",
    "Min-Expires", "Min-SE", "Organization", "P-Access-Network-Info", "P-Asserted-Identity",
    "P-Associated-URI", "P-Called-Party-ID", "P-Charging-Function-Addresses", "P-Charging-Vector",
    "P-Early-Media", "P-Media-Authorization", "P-Preferred-Identity", "P-Visited-Network-ID",
    "Path", "Permission-Missing", "Policy-Contact", "Policy-ID", "Priority", "Priv-Answer-Mode",
    "Privacy", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck", "Reason",
    "Record-Route", "Recv-Info", "Refer-Events-At", "Refer-Sub", "Refer-To", "Referred-By",
    "Reject-Contact", "Replaces", "Reply-To", "Request-Disposition", "Require",
    "Resource-Priority", "Retry-After", "Route", "RSeq", "Security-Client", "Security-Server",
    "Security-Verify", "Server", "Service-Route", "Session-Expires", "Session-ID", "SIP-ETag",
    "SIP-If-Match", "Subject", "Subscription-State", "Supported", "Suppress-If-Match",
    "Target-Dialog", "Timestamp", "To", "Trigger-Consent", "Unsupported", "User-Agent",
    "User-to-User", "Via", "Warning", "WWW-Authenticate",
)

#: lower-case header name -> canonical spelling, for the common SIP header fields.
CANONICAL_HEADER_NAMES = {name.lower(): name for name in _HEADER_NAMES}

#: compact form (RFC 3261 §7.3.3 and the extensions that define one) -> canonical name.
COMPACT_FORMS = {
    "a": "Accept-Contact", "b": "Referred-By", "c": "Content-Type", "d": "Request-Disposition",
    "e": "Content-Encoding", "f": "From", "i": "Call-ID", "j": "Reject-Contact", "k": "Supported",
    "l": "Content-Length", "m": "Contact", "n": "Identity-Info", "o": "Event", "r": "Refer-To",
    "s": "Subject", "t": "To", "u": "Allow-Events", "v": "Via", "x": "Session-Expires",
    "y": "Identity",
}

# Methods returned as shared str objects instead of a fresh decode.
_METHOD_NAMES = (
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY",
    "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
)

cdef enum:
    _LF = 10
    _CR = 13
    _SP = 32
    _HT = 9
    _MAX_KNOWN = 256              # room for the header name table
    _HTAB_SIZE = 1024             # open-addressing table, power of two, > 2 * _MAX_KNOWN
    _MAX_METHODS = 32
    _INLINE_HEADERS = 24          # header records stored inside the message object
    _MAX_NAME_LEN = 0xFFFF
    _MAX_SIZE_LIMIT = 0x7FFFFFFF  # offsets are stored as uint32

cdef uint32_t _FNV_OFFSET = 2166136261U
cdef uint32_t _FNV_PRIME = 16777619U
cdef Py_ssize_t _CL_SATURATE = <Py_ssize_t>1 << 40

cdef uint8_t _TOKEN[256]                    # RFC 3261 token characters
cdef uint8_t _LOWER[256]                    # ASCII lower-casing
cdef const char* _known_lower[_MAX_KNOWN]   # lower-cased canonical names (point into _keep)
cdef uint16_t _known_len[_MAX_KNOWN]
cdef int16_t _htab[_HTAB_SIZE]              # hash slot -> id + 1 (0 = empty)
cdef int16_t _compact[256]                  # compact letter -> id + 1 (0 = not a compact form)
cdef const char* _method_ptr[_MAX_METHODS]
cdef Py_ssize_t _method_len[_MAX_METHODS]
cdef int _n_methods = 0
cdef int _ID_CONTENT_LENGTH = -1
cdef tuple _canonical_str                   # id -> canonical str
cdef tuple _method_str                      # method index -> str
cdef dict _ids_by_name = {}                 # str spelling (canonical/lower/compact) -> id
cdef list _keep = []                        # owns the bytes that the C tables point into


cdef inline uint32_t _hash_step(uint32_t h, uint8_t c) noexcept nogil:
    return (h ^ _LOWER[c]) * _FNV_PRIME


cdef inline bint _eq_lower(const uint8_t* p, const char* lower, Py_ssize_t n) noexcept nogil:
    """Whether p[:n], lower-cased, equals the already lower-case ``lower``."""
    cdef Py_ssize_t k
    for k in range(n):
        if _LOWER[p[k]] != <uint8_t>lower[k]:
            return False
    return True


cdef inline bint _is_ws(uint8_t c) noexcept nogil:
    return c == _SP or c == _HT


cdef int _known_id(const uint8_t* p, Py_ssize_t n, uint32_t h) noexcept nogil:
    """The id of the known header name p[:n] (hash h), or -1."""
    cdef uint32_t slot
    cdef int ident
    if n == 1:
        return _compact[p[0]] - 1
    slot = h & (_HTAB_SIZE - 1)
    while _htab[slot]:
        ident = _htab[slot] - 1
        if _known_len[ident] == n and _eq_lower(p, _known_lower[ident], n):
            return ident
        slot = (slot + 1) & (_HTAB_SIZE - 1)
    return -1


cdef void _init_tables() except *:
    global _canonical_str, _method_str, _ID_CONTENT_LENGTH, _n_methods
    cdef int c, ident
    cdef uint32_t h, slot
    cdef bytes low
    for c in range(256):
        _LOWER[c] = c + 32 if 65 <= c <= 90 else c
        _TOKEN[c] = 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c in b"-.!%*_+`'~"
        _compact[c] = 0
    for c in range(_HTAB_SIZE):
        _htab[c] = 0
    assert len(_HEADER_NAMES) <= _MAX_KNOWN and len(_METHOD_NAMES) <= _MAX_METHODS
    for ident, name in enumerate(_HEADER_NAMES):
        low = name.lower().encode("ascii")
        _keep.append(low)
        _known_lower[ident] = low
        _known_len[ident] = len(low)
        h = _FNV_OFFSET
        for c in low:
            h = _hash_step(h, c)
        slot = h & (_HTAB_SIZE - 1)
        while _htab[slot]:
            slot = (slot + 1) & (_HTAB_SIZE - 1)
        _htab[slot] = ident + 1
        _ids_by_name[name] = _ids_by_name[name.lower()] = ident
    for letter, name in COMPACT_FORMS.items():
        ident = _HEADER_NAMES.index(name)
        _compact[ord(letter)] = _compact[ord(letter.upper())] = ident + 1
        _ids_by_name[letter] = _ids_by_name[letter.upper()] = ident
    _canonical_str = _HEADER_NAMES
    _ID_CONTENT_LENGTH = _HEADER_NAMES.index("Content-Length")
    for ident, name in enumerate(_METHOD_NAMES):
        low = name.encode("ascii")
        _keep.append(low)
        _method_ptr[ident] = low
        _method_len[ident] = len(low)
    _n_methods = len(_METHOD_NAMES)
    _method_str = _METHOD_NAMES


_init_tables()


# ---------------------------------------------------------------------------------------------
# The message view
# ---------------------------------------------------------------------------------------------

cdef struct HeaderRec:
    uint32_t name_off       # offsets relative to the start of the message's raw bytes
    uint32_t value_off      # first byte of the value (after the colon and leading LWS)
    uint32_t value_end      # one past the last non-whitespace byte of the value
    uint16_t name_len
    int16_t ident           # index into _HEADER_NAMES, or -1 for a name we do not know
    uint8_t folded          # the value spans several lines and must be unfolded


cdef inline int _fail(str what, Py_ssize_t offset) except -1:
    raise SIPScanError(what, offset)


cdef str _show(const uint8_t* p, Py_ssize_t n):
    """A short printable rendering of p[:n] for error messages."""
    return repr(PyUnicode_DecodeLatin1(<const char*>p, min(n, 40), NULL))


cdef object _unfold(const uint8_t* p, Py_ssize_t start, Py_ssize_t end):
    """Decode p[start:end], replacing every fold (LWS containing line breaks) by a single SP."""
    cdef char stack[512]
    cdef char* out = stack
    cdef Py_ssize_t o = 0, k = start
    cdef uint8_t c
    if end - start > <Py_ssize_t>sizeof(stack):
        out = <char*>malloc(end - start)
        if out == NULL:
            raise MemoryError()
    try:
        while k < end:
            c = p[k]
            if c == _CR or c == _LF:
                while o > 0 and _is_ws(<uint8_t>out[o - 1]):
                    o -= 1
                while k < end and (_is_ws(p[k]) or p[k] == _CR or p[k] == _LF):
                    k += 1
                out[o] = _SP
            else:
                out[o] = <char>c
                k += 1
            o += 1
        return PyUnicode_DecodeUTF8(out, o, "surrogateescape")
    finally:
        if out != stack:
            free(out)


cdef int _ident_of(str name) except -2:
    """The id of a header name asked for from Python (any case, compact forms), or -1."""
    cdef object ident = _ids_by_name.get(name)
    if ident is None:
        ident = _ids_by_name.get(name.lower())
        if ident is None:
            return -1
    return <int>ident


cdef bytes _unknown_key(str name):
    """``name`` lower-cased as ASCII bytes; b"" (which matches nothing) if it is not ASCII."""
    if not name.isascii():
        return b""
    return name.lower().encode("ascii")


@cython.final
@cython.freelist(32)
cdef class ScannedMessage:
    """Immutable view of one scanned SIP message; made by :func:`scan` and :class:`StreamFramer`.

    Offsets into ``raw`` are kept in C; names, values and the body become Python objects only
    when asked for. ``len(message)`` is the number of bytes of ``raw`` the message used.
    """

    cdef bytes _raw
    cdef Py_ssize_t _used
    cdef bint _is_request
    cdef int _status
    cdef Py_ssize_t _a_off, _a_len      # request: method; response: unused
    cdef Py_ssize_t _b_off, _b_len      # request: Request-URI; response: Reason-Phrase
    cdef Py_ssize_t _head_end           # offset just past the empty line ending the headers
    cdef Py_ssize_t _content_length     # -1 when there is no Content-Length field
    cdef Py_ssize_t _body_off, _body_len
    cdef int _count, _capacity
    cdef HeaderRec* _hdrs
    cdef HeaderRec _inline[_INLINE_HEADERS]

    def __cinit__(self):
        self._hdrs = self._inline
        self._capacity = _INLINE_HEADERS
        self._count = 0
        self._content_length = -1

    def __init__(self, *args, **kwargs):
        raise TypeError("ScannedMessage objects are made by scan() and StreamFramer.feed()")

    def __dealloc__(self):
        if self._hdrs != self._inline:
            free(self._hdrs)

    cdef HeaderRec* _new_header(self) except NULL:
        cdef HeaderRec* grown
        if self._count == self._capacity:
            if self._hdrs == self._inline:
                grown = <HeaderRec*>malloc(2 * self._capacity * sizeof(HeaderRec))
                if grown != NULL:
                    memcpy(grown, self._inline, self._count * sizeof(HeaderRec))
            else:
                grown = <HeaderRec*>realloc(self._hdrs, 2 * self._capacity * sizeof(HeaderRec))
            if grown == NULL:
                raise MemoryError()
            self._hdrs = grown
            self._capacity *= 2
        self._count += 1
        return &self._hdrs[self._count - 1]

    cdef inline const uint8_t* _p(self):
        return <const uint8_t*>PyBytes_AS_STRING(self._raw)

    cdef object _name(self, int k):
        cdef HeaderRec* rec = &self._hdrs[k]
        if rec.ident >= 0:
            return _canonical_str[rec.ident]
        return PyUnicode_DecodeLatin1(<const char*>self._p() + rec.name_off, rec.name_len, NULL)

    cdef object _value(self, int k):
        cdef HeaderRec* rec = &self._hdrs[k]
        if rec.folded:
            return _unfold(self._p(), rec.value_off, rec.value_end)
        return PyUnicode_DecodeUTF8(<const char*>self._p() + rec.value_off,
                                    rec.value_end - rec.value_off, "surrogateescape")

    cdef int _next_known(self, int ident, int k) noexcept:
        """Index of the first header with id ``ident`` at or after ``k``, or -1."""
        while k < self._count:
            if self._hdrs[k].ident == ident:
                return k
            k += 1
        return -1

    cdef int _next_unknown(self, bytes name, int k) noexcept:
        """Index of the first header not in the known-name table called ``name`` (lower-case
        ASCII) at or after ``k``, or -1."""
        cdef const uint8_t* p = self._p()
        cdef Py_ssize_t n = PyBytes_GET_SIZE(name)
        while k < self._count:
            if (self._hdrs[k].ident < 0 and self._hdrs[k].name_len == n and
                    _eq_lower(p + self._hdrs[k].name_off, PyBytes_AS_STRING(name), n)):
                return k
            k += 1
        return -1

    def get(self, str name not None, default=None):
        """The value of the first header field called ``name`` (any case, compact forms too)."""
        cdef int k, ident = _ident_of(name)
        if ident >= 0:
            k = self._next_known(ident, 0)
        else:
            k = self._next_unknown(_unknown_key(name), 0)
        return default if k < 0 else self._value(k)

    def get_all(self, str name not None):
        """The values of every header field called ``name``, in message order (not comma-split)."""
        cdef int k, ident = _ident_of(name)
        cdef bytes key = None if ident >= 0 else _unknown_key(name)
        cdef list values = []
        k = self._next_known(ident, 0) if key is None else self._next_unknown(key, 0)
        while k >= 0:
            values.append(self._value(k))
            k = self._next_known(ident, k + 1) if key is None else self._next_unknown(key, k + 1)
        return values

    @property
    def headers(self):
        """Every header field as a ``(name, value)`` pair, in message order."""
        cdef int k
        return [(self._name(k), self._value(k)) for k in range(self._count)]

    @property
    def header_count(self):
        return self._count

    @property
    def is_request(self):
        return self._is_request

    @property
    def method(self):
        cdef int k
        cdef const uint8_t* p
        if not self._is_request:
            return None
        p = self._p() + self._a_off
        for k in range(_n_methods):
            if _method_len[k] == self._a_len and memcmp(p, _method_ptr[k], self._a_len) == 0:
                return _method_str[k]
        return PyUnicode_DecodeLatin1(<const char*>p, self._a_len, NULL)

    @property
    def request_uri(self):
        if not self._is_request:
            return None
        return PyUnicode_DecodeUTF8(<const char*>self._p() + self._b_off, self._b_len,
                                    "surrogateescape")

    @property
    def sip_version(self):
        """Always ``"SIP/2.0"``: the only version the scanner accepts (compared case-insensitively)."""
        return "SIP/2.0"

    @property
    def status_code(self):
        return None if self._is_request else self._status

    @property
    def reason(self):
        if self._is_request:
            return None
        return PyUnicode_DecodeUTF8(<const char*>self._p() + self._b_off, self._b_len,
                                    "surrogateescape")

    @property
    def body(self):
        if self._body_len == 0:
            return b""
        return PyBytes_FromStringAndSize(<const char*>self._p() + self._body_off, self._body_len)

    @property
    def raw(self):
        """The bytes the message was scanned from; ``raw[:len(message)]`` is the message itself."""
        return self._raw

    def __len__(self):
        return self._used

    def __repr__(self):
        if self._is_request:
            first = f"{self.method} {self.request_uri}"
        else:
            first = f"{self._status} {self.reason}"
        return (f"<ScannedMessage {first!r}: {self._count} header fields, "
                f"{self._body_len}-byte body>")


# ---------------------------------------------------------------------------------------------
# The scanner
# ---------------------------------------------------------------------------------------------

cdef int _check_chars(const uint8_t* p, Py_ssize_t i, Py_ssize_t e, Py_ssize_t base,
                      bint allow_tab, str where) except -1:
    """Reject control characters (and HTAB unless allowed) in p[i:e]."""
    cdef uint8_t c
    for i in range(i, e):
        c = p[i]
        if (c < 0x20 and not (allow_tab and c == _HT)) or c == 0x7F:
            _fail(f"control character 0x{c:02x} in {where}", base + i)
    return 0


cdef int _scan_status_line(ScannedMessage m, const uint8_t* p, Py_ssize_t i, Py_ssize_t e,
                           Py_ssize_t base) except -1:
    cdef Py_ssize_t k = i, d
    cdef int code = 0
    while k < e and p[k] != _SP:
        k += 1
    if k - i != 7 or not _eq_lower(p + i, b"sip/2.0", 7):
        _fail(f"unsupported SIP-Version {_show(p + i, k - i)}", base + i)
    if k == e:
        _fail("Status-Line has no status code", base + e)
    k += 1
    d = k
    while d < e and 48 <= p[d] <= 57:
        if d - k < 3:
            code = code * 10 + (p[d] - 48)
        d += 1
    if d - k != 3:
        _fail(f"status code {_show(p + k, d - k)} is not three digits", base + k)
    if not 100 <= code <= 699:
        _fail(f"status code {code} is outside 100-699", base + k)
    if d < e and p[d] != _SP:
        _fail("expected SP after the status code", base + d)
    _check_chars(p, d, e, base, True, "Reason-Phrase")
    m._is_request = False
    m._status = code
    m._b_off = d + 1 if d < e else e
    m._b_len = e - m._b_off
    return 0


cdef int _scan_request_line(ScannedMessage m, const uint8_t* p, Py_ssize_t i, Py_ssize_t e,
                            Py_ssize_t base) except -1:
    cdef Py_ssize_t k = i, u, v
    while k < e and _TOKEN[p[k]]:
        k += 1
    if k == i or (k < e and p[k] != _SP):
        _fail(f"invalid character {_show(p + k, 1)} in the request method", base + k)
    if k == e:
        _fail("Request-Line has no Request-URI", base + e)
    u = v = k + 1
    while v < e and p[v] > 0x20 and p[v] != 0x7F:
        v += 1
    if v == u:
        _fail(f"unexpected {_show(p + v, 1)} at the start of the Request-URI", base + v)
    if v == e:
        _fail("Request-Line has no SIP-Version", base + e)
    if p[v] != _SP:
        _fail(f"invalid character {_show(p + v, 1)} in the Request-URI", base + v)
    k = v + 1
    if e - k != 7 or not _eq_lower(p + k, b"sip/2.0", 7):
        while k < e and p[k] > 0x20:
            k += 1
        if k < e:
            _fail("unexpected whitespace in the Request-Line", base + k)
        _fail(f"unsupported SIP-Version {_show(p + v + 1, e - v - 1)}", base + v + 1)
    m._is_request = True
    m._a_off, m._a_len = i, u - 1 - i
    m._b_off, m._b_len = u, v - u
    return 0


cdef Py_ssize_t _scan_start_line(ScannedMessage m, const uint8_t* p, Py_ssize_t i, Py_ssize_t n,
                                 Py_ssize_t base) except -1:
    """Scan the start line at p[i]; return the offset of the next line."""
    cdef const uint8_t* q = <const uint8_t*>memchr(p + i, _LF, n - i)
    cdef Py_ssize_t le, e
    if q == NULL:
        _fail("start line is not terminated", base + n)
    le = q - p
    e = le - 1 if le > i and p[le - 1] == _CR else le
    if memchr(p + i, _CR, e - i) != NULL:
        _fail("bare CR in the start line", base + (<const uint8_t*>memchr(p + i, _CR, e - i) - p))
    if e - i >= 4 and _eq_lower(p + i, b"sip/", 4):
        _scan_status_line(m, p, i, e, base)
    else:
        _check_chars(p, i, e, base, False, "the Request-Line")
        _scan_request_line(m, p, i, e, base)
    return le + 1


cdef Py_ssize_t _content_length(const uint8_t* p, Py_ssize_t s, Py_ssize_t e,
                                Py_ssize_t base) except -1:
    """Parse a Content-Length value (1*DIGIT); huge values saturate instead of overflowing."""
    cdef Py_ssize_t v = 0, k
    if s == e:
        _fail("empty Content-Length", base + s)
    for k in range(s, e):
        if not 48 <= p[k] <= 57:
            _fail(f"Content-Length {_show(p + s, e - s)} is not a non-negative integer", base + k)
        if v < _CL_SATURATE:
            v = v * 10 + (p[k] - 48)
    return v


cdef Py_ssize_t _scan_value(HeaderRec* rec, const uint8_t* p, Py_ssize_t i, Py_ssize_t n,
                            Py_ssize_t base) except -1:
    """Scan a header value starting after the colon, across folded lines; fill ``rec``'s value
    fields and return the offset of the next line."""
    cdef Py_ssize_t vs = -1, ve = 0, le, e
    cdef const uint8_t* q
    cdef bint folded = False
    while True:
        while i < n and _is_ws(p[i]):
            i += 1
        q = <const uint8_t*>memchr(p + i, _LF, n - i) if i < n else NULL
        if q == NULL:
            _fail("header field is not terminated by a line end", base + n)
        le = q - p
        e = le - 1 if le > i and p[le - 1] == _CR else le
        q = <const uint8_t*>memchr(p + i, _CR, e - i) if e > i else NULL
        if q != NULL:
            _fail("bare CR in a header field", base + (q - p))
        while e > i and _is_ws(p[e - 1]):
            e -= 1
        if e > i:
            if vs < 0:
                vs = i
            else:
                folded = True
            ve = e
        i = le + 1
        if i >= n or not _is_ws(p[i]):
            break
    if vs < 0:
        vs = ve = le
    rec.value_off = <uint32_t>vs
    rec.value_end = <uint32_t>ve
    rec.folded = folded
    return i


cdef Py_ssize_t _scan_field(ScannedMessage m, const uint8_t* p, Py_ssize_t i, Py_ssize_t n,
                            Py_ssize_t base) except -1:
    """Scan one header field starting at p[i]; return the offset of the next line."""
    cdef Py_ssize_t ns = i, ne, cl
    cdef uint32_t h = _FNV_OFFSET
    cdef HeaderRec* rec
    while i < n and _TOKEN[p[i]]:
        h = _hash_step(h, p[i])
        i += 1
    ne = i
    if ne == ns:
        _fail(f"invalid character {_show(p + i, 1)} at the start of a header field", base + i)
    if ne - ns > _MAX_NAME_LEN:
        _fail("header field name is too long", base + ns)
    while i < n and _is_ws(p[i]):
        i += 1
    if i >= n or p[i] != 58:  # ':'
        _fail(f"expected ':' after the header field name {_show(p + ns, ne - ns)}", base + i)
    rec = m._new_header()
    rec.name_off = <uint32_t>ns
    rec.name_len = <uint16_t>(ne - ns)
    rec.ident = <int16_t>_known_id(p + ns, rec.name_len, h)
    i = _scan_value(rec, p, i + 1, n, base)
    if rec.ident == _ID_CONTENT_LENGTH:
        cl = _content_length(p, rec.value_off, rec.value_end, base)
        if m._content_length >= 0 and cl != m._content_length:
            _fail("conflicting Content-Length values", base + rec.value_off)
        m._content_length = cl
    return i


cdef Py_ssize_t _scan_head(ScannedMessage m, const uint8_t* p, Py_ssize_t n, Py_ssize_t base,
                           int max_headers, bint skip_crlf) except -1:
    """Scan start line and header section of p[:n]; return the offset just past the empty line."""
    cdef Py_ssize_t i = 0
    cdef uint8_t c
    if skip_crlf:
        while i < n and (p[i] == _LF or (p[i] == _CR and i + 1 < n and p[i + 1] == _LF)):
            i += 1 if p[i] == _LF else 2
    if i >= n:
        _fail("empty message", base + i)
    i = _scan_start_line(m, p, i, n, base)
    while True:
        if i >= n:
            _fail("header section is not terminated by an empty line", base + n)
        c = p[i]
        if c == _LF or c == _CR:
            if c == _CR and (i + 1 >= n or p[i + 1] != _LF):
                _fail("bare CR in the header section", base + i)
            i += 1 if c == _LF else 2
            break
        if _is_ws(c):
            _fail("continuation line without a header field above it", base + i)
        if m._count >= max_headers:
            _fail(f"more than {max_headers} header fields", base + i)
        i = _scan_field(m, p, i, n, base)
    m._head_end = i
    return i


cdef int _check_limits(Py_ssize_t max_size, int max_headers) except -1:
    if not 0 < max_size <= _MAX_SIZE_LIMIT:
        raise ValueError(f"max_size must be in 1..{_MAX_SIZE_LIMIT}, not {max_size}")
    if max_headers < 0:
        raise ValueError(f"max_headers must not be negative, not {max_headers}")
    return 0


def scan(data, *, Py_ssize_t max_size=65535, int max_headers=256):
    """Scan one complete SIP message (a datagram) and return a :class:`ScannedMessage`.

    Raises :class:`SIPScanError` when the bytes are not a well-framed SIP message.
    """
    cdef bytes raw
    cdef ScannedMessage m
    cdef Py_ssize_t n, i
    if type(data) is bytes:
        raw = <bytes>data
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    else:
        raise TypeError(f"scan() needs bytes, not {type(data).__name__}")
    _check_limits(max_size, max_headers)
    n = PyBytes_GET_SIZE(raw)
    if n > max_size:
        _fail(f"message of {n} bytes is larger than max_size ({max_size})", max_size)
    m = ScannedMessage.__new__(ScannedMessage)
    i = _scan_head(m, <const uint8_t*>PyBytes_AS_STRING(raw), n, 0, max_headers, True)
    if m._content_length > n - i:
        _fail(f"Content-Length {m._content_length} is larger than the {n - i} body bytes received", i)
    m._raw = raw
    m._body_off = i
    m._body_len = m._content_length if m._content_length >= 0 else n - i
    m._used = i + m._body_len
    return m


# ---------------------------------------------------------------------------------------------
# Stream framing
# ---------------------------------------------------------------------------------------------

@cython.final
cdef class StreamFramer:
    """Cuts SIP messages out of a byte stream (TCP/TLS) by Content-Length (RFC 3261 §18.3).

    ``feed(data)`` returns every message completed by ``data``; the rest is kept for the next
    call. CRLF keep-alives between messages (RFC 5626 §3.5.1) are skipped and counted: ``pings``
    counts double CRLFs (the transport must answer each with a single CRLF), ``pongs`` counts
    single CRLFs. A CRLF that arrives with nothing after it yet is counted as a pong at once, so a
    client waiting for a pong never waits for more bytes; if a second CRLF then follows it, the
    pair also counts as a ping.

    Any :class:`SIPScanError` (bad message, missing Content-Length, message over ``max_size``)
    is final: the connection must be closed, and later calls to ``feed`` raise again. The
    error's ``messages`` holds the messages that the failing call completed before the error.
    """

    cdef bytearray _buf
    cdef Py_ssize_t _pos            # start of the unconsumed bytes in _buf
    cdef Py_ssize_t _search         # where the search for the end of the header section resumes
    cdef Py_ssize_t _need           # size of the pending message once its header section is known
    cdef Py_ssize_t _consumed       # stream offset of _buf[0]
    cdef ScannedMessage _pending    # scanned header section waiting for its body
    cdef bint _in_message           # the current message's first byte has arrived
    cdef bint _half_ping            # an unpaired CRLF was seen at the current message boundary
    cdef object _error
    cdef readonly Py_ssize_t max_size
    cdef readonly int max_headers
    cdef readonly unsigned long long pings
    cdef readonly unsigned long long pongs

    def __init__(self, *, Py_ssize_t max_size=65535, int max_headers=256):
        _check_limits(max_size, max_headers)
        self.max_size = max_size
        self.max_headers = max_headers
        self._buf = bytearray()
        self._need = -1

    @property
    def buffered(self):
        """Number of bytes received but not yet returned as part of a message."""
        return PyByteArray_GET_SIZE(self._buf) - self._pos

    @property
    def failed(self):
        """The SIPScanError that stopped this framer, or None."""
        return self._error

    def feed(self, data):
        """Add ``data`` from the stream; return the list of messages it completes."""
        if self._error is not None:
            raise SIPScanError(f"stream is unusable after an earlier error: {self._error}")
        try:
            return self._feed(data)
        except SIPScanError as e:
            self._error = e
            raise

    cdef list _feed(self, data):
        cdef list out = []
        cdef const uint8_t* p
        cdef Py_ssize_t n
        self._buf += data
        try:
            while True:
                p = <const uint8_t*>PyByteArray_AS_STRING(self._buf)
                n = PyByteArray_GET_SIZE(self._buf)
                if not self._in_message and not self._skip_keepalives(p, n):
                    break
                if self._pending is None and not self._find_head(p, n):
                    break
                if n - self._pos < self._need:
                    break
                out.append(self._finish(p))
        except SIPScanError as e:
            e.messages = out
            raise
        if self._pos:
            del self._buf[:self._pos]
            self._consumed += self._pos
            self._search -= self._pos
            self._pos = 0
        return out

    cdef bint _skip_keepalives(self, const uint8_t* p, Py_ssize_t n) except -1:
        """Consume CRLFs at a message boundary; True when a message's first byte is there."""
        cdef Py_ssize_t i = self._pos
        while i < n:
            if p[i] == _LF:
                i += 1
            elif p[i] == _CR:
                if i + 1 >= n:
                    break
                if p[i + 1] != _LF:
                    _fail("bare CR between messages", self._consumed + i)
                i += 2
            else:
                self._in_message = True
                self._half_ping = False
                self._pos = self._search = i
                return True
            if self._half_ping:
                self.pings += 1
                self._half_ping = False
            else:
                self._half_ping = True
                if not (i < n and (p[i] == _LF or (p[i] == _CR and i + 1 < n and p[i + 1] == _LF))):
                    self.pongs += 1
        self._pos = i
        return False

    cdef bint _find_head(self, const uint8_t* p, Py_ssize_t n) except -1:
        """Look for the empty line ending the header section, resuming where the last search
        stopped; when found, scan the header section. True when the header section is scanned."""
        cdef Py_ssize_t s = self._search, k, end = -1
        cdef const uint8_t* q
        while end < 0:
            q = <const uint8_t*>memchr(p + s, _LF, n - s) if s < n else NULL
            if q == NULL:
                s = n
                break
            k = q - p
            if k + 1 < n and p[k + 1] == _LF:
                end = k + 2
            elif k + 2 < n and p[k + 1] == _CR and p[k + 2] == _LF:
                end = k + 3
            elif k + 1 >= n or (k + 2 >= n and p[k + 1] == _CR):
                s = k              # the line after this LF is not complete yet: look again later
                break
            else:
                s = k + 1
        if end < 0:
            self._search = s
            if n - self._pos > self.max_size:
                _fail(f"header section is larger than max_size ({self.max_size})",
                      self._consumed + self._pos + self.max_size)
            return False
        return self._scan_pending(p, end)

    cdef bint _scan_pending(self, const uint8_t* p, Py_ssize_t end) except -1:
        cdef Py_ssize_t hlen = end - self._pos, base = self._consumed + self._pos
        cdef ScannedMessage m
        if hlen > self.max_size:
            _fail(f"header section is larger than max_size ({self.max_size})", base + self.max_size)
        m = ScannedMessage.__new__(ScannedMessage)
        _scan_head(m, p + self._pos, hlen, base, self.max_headers, False)
        if m._content_length < 0:
            _fail("message has no Content-Length, which is mandatory on a stream", base)
        if m._content_length > self.max_size - hlen:
            _fail(f"message with Content-Length {m._content_length} is larger than max_size "
                  f"({self.max_size})", base + hlen)
        self._pending = m
        self._need = hlen + m._content_length
        return True

    cdef ScannedMessage _finish(self, const uint8_t* p):
        cdef ScannedMessage m = self._pending
        m._raw = PyBytes_FromStringAndSize(<const char*>p + self._pos, self._need)
        m._body_off = m._head_end
        m._body_len = self._need - m._head_end
        m._used = self._need
        self._pos += self._need
        self._search = self._pos
        self._pending = None
        self._need = -1
        self._in_message = False
        return m
