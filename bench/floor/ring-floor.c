/*
 * The ring floor: the least a displif backend can do, in C, on the simulator's transport.
 *
 * It answers the rings of the connectors it is given with nothing but the protocol, so that the
 * benchmark can put every vdispld figure next to what the same guests, the same simulated
 * hypervisor and the same machine cost without vdispld's code in the way:
 *   - requests are copied out of the shared ring once (RING_COPY_REQUEST) and answered with a
 *     zeroed response echoing id and operation, status 0, through io/ring.h's own macros;
 *   - DBUF_CREATE walks the page directory (each page by grant copy, the cheapest read there is)
 *     and maps the buffer read-only, as any backend must (the hypervisor checks every grant);
 *     DBUF_DESTROY unmaps it;
 *   - PG_FLIP is answered at once and its EVT_PG_FLIP goes out at the next tick of a vblank clock
 *     (--vblank-hz; 0 = at once), a newer flip replacing a waiting one, whose event then goes out
 *     at once (the same rule a display engine and vdispld follow);
 *   - nothing is validated beyond the ring indices: it is a floor, not a backend.
 *
 * Transport: the simulated hypervisor's socket for the domain it runs in (see
 * src/sim/hv/wire.ts): frames of little-endian u32 words [n, op, seq, args...]; and event-channel
 * doorbells (src/sim/hv/event-channels.ts): a FIFO per port, polled by its owner and rung by its
 * peer with one byte, as vdispld and the simulated guests do.
 *
 * The XenBus handshake is the benchmark's job. It hands connectors over on stdin, one line each:
 *   add <dev-key> <fe-domid> <conn> <req-ref> <req-port> <evt-ref> <evt-port>
 * and reads "ok" or "err <why>" back on stdout. "stats" prints one line of counters, EOF ends it.
 * With $NOTIFY_SOCKET set it sends READY=1 there once it has joined the hypervisor, as a
 * systemd service would: the start-up floor.
 *
 * Build: cc -O2 -o ring-floor ring-floor.c (the benchmark does it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* io/ring.h leaves the barriers to the includer. */
#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/displif.h>

#define PAGE 4096u
#define MAX_CONNS 256
#define MAX_DEVS 64
#define MAX_DBUFS 64
#define MAX_REFS 65536u
#define REFS_PER_DIR_PAGE ((PAGE - 4u) / 4u)

/* src/sim/hv/wire.ts */
enum {
  HV_INFO = 1,
  HV_BIND_INTERDOMAIN = 3,
  HV_NOTIFY = 5,
  HV_GNT_MAP = 7,
  HV_GNT_UNMAP = 8,
  HV_GNT_COPY_PAGE = 15,
  HV_REPLY = 100,
  HV_EVTCHN_PEER = 102,
};
#define GNTMAP_READONLY 1u
#define MAX_FRAME_WORDS (65536u + 16u)

struct dbuf {
  uint64_t cookie;
  uint32_t handle;
  void* addr;
  size_t len;
};

struct device {
  char key[64];
  uint32_t domid;
  struct dbuf dbufs[MAX_DBUFS];
  int ndbufs;
};

struct conn {
  struct device* dev;
  uint32_t conn;
  xen_displif_back_ring_t ring;
  struct xendispl_event_page* evt;
  uint32_t req_port, evt_port;
  int req_bell;           /* our doorbell for req_port, polled */
  int req_peer, evt_peer; /* the frontend's doorbells, rung; -1: notify through the hypervisor */
  uint32_t in_prod;       /* private: never read back from the shared page */
  uint16_t evt_id;
  int flip_waiting;
  uint64_t flip_cookie;
  int broken;
};

static const char* sim_dir;
static int hv = -1;
static uint32_t own_domid;
static uint32_t seq;
static struct conn conns[MAX_CONNS];
static int nconns;
static struct device devs[MAX_DEVS];
static int ndevs;
static int ram_fds[4096];
static uint64_t n_requests, n_events, n_dbufs;

/* Socket input. */
static uint8_t* rx;
static size_t rx_len, rx_cap;
static int ep = -1;

static void die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("ring-floor: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static void write_all(int fd, const void* buf, size_t len) {
  const uint8_t* p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("write: %s", strerror(errno));
    }
    p += n;
    len -= (size_t)n;
  }
}

static void send_frame(uint32_t op, uint32_t s, const uint32_t* args, uint32_t nargs) {
  uint32_t stackbuf[64];
  uint32_t* w = nargs + 3 <= 64 ? stackbuf : malloc((nargs + 3) * 4);
  if (!w) die("out of memory");
  w[0] = nargs + 2;
  w[1] = op;
  w[2] = s;
  memcpy(w + 3, args, nargs * 4);
  write_all(hv, w, (nargs + 3) * 4);
  if (w != stackbuf) free(w);
}

/* dontwait: the socket was readable when epoll said so, but a call made since may have read it. */
static void read_more(int dontwait) {
  if (rx_cap - rx_len < 65536) {
    rx_cap = rx_cap ? rx_cap * 2 : 1 << 20;
    rx = realloc(rx, rx_cap);
    if (!rx) die("out of memory");
  }
  ssize_t n;
  do n = recv(hv, rx + rx_len, rx_cap - rx_len, dontwait ? MSG_DONTWAIT : 0);
  while (n < 0 && errno == EINTR);
  if (n < 0 && dontwait && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n < 0) die("hypervisor socket: %s", strerror(errno));
  if (n == 0) die("the hypervisor closed the connection");
  rx_len += (size_t)n;
}

/* The next complete frame in rx, or 0. *words points into rx until consume_frame(). */
static size_t peek_frame(uint32_t** words) {
  if (rx_len < 4) return 0;
  uint32_t n;
  memcpy(&n, rx, 4);
  if (n < 2 || n > MAX_FRAME_WORDS) die("bad frame from the hypervisor (%u words)", n);
  size_t bytes = (n + 1) * 4;
  if (rx_len < bytes) return 0;
  *words = (uint32_t*)rx;
  return bytes;
}

static void consume_frame(size_t bytes) {
  memmove(rx, rx + bytes, rx_len - bytes);
  rx_len -= bytes;
}

static int open_bell(uint32_t domid, uint32_t port, uint32_t gen) {
  char path[4096];
  snprintf(path, sizeof path, "%s/xen/evtchn/dom%u-port%u-%u", sim_dir, domid, port, gen);
  return open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
}

/* The hypervisor says a port's peer changed (gen 0: gone; sends go through the hypervisor). */
static void on_peer(const uint32_t* a) {
  for (int i = 0; i < nconns; i++) {
    struct conn* c = &conns[i];
    int* bell = c->req_port == a[0] ? &c->req_peer : c->evt_port == a[0] ? &c->evt_peer : NULL;
    if (!bell) continue;
    if (*bell >= 0) close(*bell);
    *bell = a[3] ? open_bell(a[1], a[2], a[3]) : -1;
    return;
  }
}

/* A hypercall: sends the request, returns the reply words (malloc'd), handling peer changes meanwhile. */
static uint32_t* call(uint32_t op, const uint32_t* args, uint32_t nargs, uint32_t* nreply) {
  seq = seq % 0xfffffffeu + 1;
  uint32_t want = seq;
  send_frame(op, want, args, nargs);
  for (;;) {
    uint32_t* w;
    size_t bytes;
    while ((bytes = peek_frame(&w)) != 0) {
      uint32_t n = w[0];
      if (w[1] == HV_EVTCHN_PEER && n == 6) {
        on_peer(w + 3);
      } else if (w[1] == HV_REPLY && w[2] == want) {
        uint32_t* out = malloc((n - 2 + 1) * 4);
        if (!out) die("out of memory");
        memcpy(out, w + 3, (n - 2) * 4);
        *nreply = n - 2;
        consume_frame(bytes);
        return out;
      }
      consume_frame(bytes);
    }
    read_more(0);
  }
}

static int ram_fd(uint32_t domid) {
  if (domid >= 4096) return -1;
  if (ram_fds[domid] > 0) return ram_fds[domid];
  char path[4096];
  snprintf(path, sizeof path, "%s/mem/dom%u.ram", sim_dir, domid);
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd >= 0) ram_fds[domid] = fd;
  return fd;
}

/* Maps `n` grants of `domid`; returns the hypervisor's handle, or 0 with *err set. */
static uint32_t map_grants(uint32_t domid, const uint32_t* refs, uint32_t n, int writable, void** addr, int* err) {
  uint32_t* args = malloc((n + 2) * 4);
  if (!args) die("out of memory");
  args[0] = domid;
  args[1] = writable ? 0 : GNTMAP_READONLY;
  memcpy(args + 2, refs, n * 4);
  uint32_t nr;
  uint32_t* r = call(HV_GNT_MAP, args, n + 2, &nr);
  free(args);
  if ((int32_t)r[0] != 0 || nr < 5 + n) {
    *err = (int32_t)r[0] ? (int32_t)r[0] : -EIO;
    free(r);
    return 0;
  }
  uint32_t handle = r[4];
  const uint32_t* frames = r + 5;
  /* Any frames, as gntdev maps them: one reserved range, each run of consecutive frames placed
   * into it with MAP_FIXED (one mmap for the usual contiguous buffer). */
  int fd = ram_fd(domid);
  int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
  void* p =
      fd < 0 ? MAP_FAILED : mmap(NULL, (size_t)n * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  for (uint32_t i = 0; p != MAP_FAILED && i < n;) {
    uint32_t run = 1;
    while (i + run < n && frames[i + run] == frames[i] + run) run++;
    if (mmap((char*)p + (size_t)i * PAGE, (size_t)run * PAGE, prot, MAP_SHARED | MAP_FIXED, fd,
             (off_t)frames[i] * PAGE) == MAP_FAILED) {
      munmap(p, (size_t)n * PAGE);
      p = MAP_FAILED;
    }
    i += run;
  }
  free(r);
  if (p == MAP_FAILED) {
    send_frame(HV_GNT_UNMAP, 0, &handle, 1);
    *err = -ENOMEM;
    return 0;
  }
  *addr = p;
  return handle;
}

static void unmap_grants(uint32_t handle, void* addr, size_t pages) {
  munmap(addr, pages * PAGE);
  send_frame(HV_GNT_UNMAP, 0, &handle, 1);
}

/* EVTCHNOP_send: the peer's doorbell once known (a full pipe is a port already pending). */
static void notify(uint32_t port, int peer_bell) {
  if (peer_bell < 0) {
    send_frame(HV_NOTIFY, 0, &port, 1);
    return;
  }
  if (write(peer_bell, "", 1) < 0 && errno != EAGAIN) die("doorbell: %s", strerror(errno));
}

static struct device* device_of(const char* key, uint32_t domid) {
  for (int i = 0; i < ndevs; i++)
    if (strcmp(devs[i].key, key) == 0) return &devs[i];
  if (ndevs == MAX_DEVS) return NULL;
  struct device* d = &devs[ndevs++];
  snprintf(d->key, sizeof d->key, "%s", key);
  d->domid = domid;
  return d;
}

static int32_t dbuf_create(struct device* d, const struct xendispl_dbuf_create_req* q) {
  if (d->ndbufs == MAX_DBUFS) return -ENOMEM;
  uint32_t n = (uint32_t)(((uint64_t)q->buffer_sz + PAGE - 1) / PAGE);
  if (n == 0 || n > MAX_REFS) return -EINVAL;
  uint32_t* refs = malloc(n * 4);
  if (!refs) return -ENOMEM;
  /* One directory page at a time, as the frontend chained them. */
  uint32_t got = 0, dir = q->gref_directory;
  int err = 0;
  while (got < n) {
    if (dir == 0) {
      free(refs);
      return -EINVAL;
    }
    /* GNTTABOP_copy of the page: one round trip, no mapping to make and tear down. */
    uint32_t args[2] = {d->domid, dir}, nr;
    uint32_t* r = call(HV_GNT_COPY_PAGE, args, 2, &nr);
    if ((int32_t)r[0] != 0 || nr != 3 + PAGE / 4) {
      err = (int32_t)r[0] ? (int32_t)r[0] : -EIO;
      free(r);
      free(refs);
      return err;
    }
    const struct xendispl_page_directory* pd = (const void*)(r + 3);
    uint32_t take = n - got < REFS_PER_DIR_PAGE ? n - got : REFS_PER_DIR_PAGE;
    memcpy(refs + got, pd->gref, take * 4);
    dir = pd->gref_dir_next_page;
    got += take;
    free(r);
  }
  void* addr;
  uint32_t h = map_grants(d->domid, refs, n, 0, &addr, &err);
  free(refs);
  if (!h) return err;
  d->dbufs[d->ndbufs++] = (struct dbuf){.cookie = q->dbuf_cookie, .handle = h, .addr = addr, .len = n};
  n_dbufs++;
  return 0;
}

static int32_t dbuf_destroy(struct device* d, uint64_t cookie) {
  for (int i = 0; i < d->ndbufs; i++) {
    if (d->dbufs[i].cookie != cookie) continue;
    unmap_grants(d->dbufs[i].handle, d->dbufs[i].addr, d->dbufs[i].len);
    d->dbufs[i] = d->dbufs[--d->ndbufs];
    return 0;
  }
  return -ENOENT;
}

static void send_flip_event(struct conn* c) {
  struct xendispl_event_page* page = c->evt;
  uint32_t cons = __atomic_load_n(&page->in_cons, __ATOMIC_ACQUIRE);
  c->flip_waiting = 0;
  if (c->in_prod - cons >= XENDISPL_IN_RING_LEN) return; /* full: the frontend stopped reading */
  struct xendispl_evt* e = &XENDISPL_IN_RING_REF(page, c->in_prod);
  memset(e, 0, sizeof *e);
  e->id = c->evt_id++;
  e->type = XENDISPL_EVT_PG_FLIP;
  e->op.pg_flip.fb_cookie = c->flip_cookie;
  c->in_prod++;
  __atomic_store_n(&page->in_prod, c->in_prod, __ATOMIC_RELEASE);
  n_events++;
  notify(c->evt_port, c->evt_peer);
}

static int vblank_hz;

static int32_t handle(struct conn* c, const struct xendispl_req* q) {
  switch (q->operation) {
    case XENDISPL_OP_DBUF_CREATE:
      return dbuf_create(c->dev, &q->op.dbuf_create);
    case XENDISPL_OP_DBUF_DESTROY:
      return dbuf_destroy(c->dev, q->op.dbuf_destroy.dbuf_cookie);
    case XENDISPL_OP_PG_FLIP:
      if (c->flip_waiting) send_flip_event(c); /* replaced before its vblank: its event goes now */
      c->flip_waiting = 1;
      c->flip_cookie = q->op.pg_flip.fb_cookie;
      return 0;
    default:
      return 0; /* FB_ATTACH, FB_DETACH, SET_CONFIG, GET_EDID: nothing but the answer */
  }
}

static void service(struct conn* c) {
  xen_displif_back_ring_t* r = &c->ring;
  if (c->broken) return;
  int more;
  do {
    RING_IDX rp = r->sring->req_prod;
    rmb();
    if (RING_REQUEST_PROD_OVERFLOW(r, rp)) {
      c->broken = 1;
      fprintf(stderr, "ring-floor: dom%u conn %u: req_prod %u overflows the ring; not served any more\n", c->dev->domid,
              c->conn, rp);
      return;
    }
    while (r->req_cons != rp) {
      struct xendispl_req q;
      RING_COPY_REQUEST(r, r->req_cons, &q);
      r->req_cons++;
      int32_t status = handle(c, &q);
      struct xendispl_resp* resp = RING_GET_RESPONSE(r, r->rsp_prod_pvt);
      memset(resp, 0, sizeof *resp);
      resp->id = q.id;
      resp->operation = q.operation;
      resp->status = status;
      r->rsp_prod_pvt++;
      n_requests++;
      int notify_fe;
      RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(r, notify_fe);
      if (notify_fe) notify(c->req_port, c->req_peer);
      if (q.operation == XENDISPL_OP_PG_FLIP && vblank_hz == 0) send_flip_event(c);
    }
    RING_FINAL_CHECK_FOR_REQUESTS(r, more);
  } while (more);
}

/* A connector's doorbell rang: take the event (drain it), then serve the ring. The event channel's
 * own port is not polled: frontends do not notify it. */
static void on_bell(struct conn* c) {
  char buf[4096];
  while (read(c->req_bell, buf, sizeof buf) == (ssize_t)sizeof buf) {
  }
  service(c);
}

static void add_conn(char* line) {
  char key[64];
  uint32_t domid, idx, req_ref, req_port, evt_ref, evt_port;
  if (sscanf(line, "add %63s %u %u %u %u %u %u", key, &domid, &idx, &req_ref, &req_port, &evt_ref, &evt_port) != 7) {
    printf("err bad add line\n");
    return;
  }
  if (nconns == MAX_CONNS) {
    printf("err too many connectors\n");
    return;
  }
  struct device* d = device_of(key, domid);
  if (!d) {
    printf("err too many devices\n");
    return;
  }
  int err = 0;
  void *ring_page, *evt_page;
  if (!map_grants(domid, &req_ref, 1, 1, &ring_page, &err) || !map_grants(domid, &evt_ref, 1, 1, &evt_page, &err)) {
    printf("err map %d\n", err);
    return;
  }
  uint32_t args[2], nr;
  uint32_t local[2], gen[2], remote_gen[2];
  uint32_t remote[2] = {req_port, evt_port};
  for (int i = 0; i < 2; i++) {
    args[0] = domid;
    args[1] = remote[i];
    uint32_t* r = call(HV_BIND_INTERDOMAIN, args, 2, &nr);
    if ((int32_t)r[0] != 0) {
      printf("err bind %d\n", (int32_t)r[0]);
      free(r);
      return;
    }
    local[i] = r[1];
    gen[i] = r[2];
    remote_gen[i] = r[3];
    free(r);
  }
  struct conn* c = &conns[nconns++];
  memset(c, 0, sizeof *c);
  c->dev = d;
  c->conn = idx;
  BACK_RING_INIT(&c->ring, (struct xen_displif_sring*)ring_page, PAGE);
  c->evt = evt_page;
  c->req_port = local[0];
  c->evt_port = local[1];
  c->req_bell = open_bell(own_domid, local[0], gen[0]);
  c->req_peer = open_bell(domid, req_port, remote_gen[0]);
  c->evt_peer = open_bell(domid, evt_port, remote_gen[1]);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 3u + (uint32_t)(c - conns)};
  if (c->req_bell < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, c->req_bell, &ev) < 0) die("doorbell: %s", strerror(errno));
  service(c); /* the bind set our port pending: requests may be waiting */
  printf("ok\n");
}

static void on_tick(int tfd) {
  uint64_t ticks;
  if (read(tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN) die("timerfd: %s", strerror(errno));
  for (int i = 0; i < nconns; i++)
    if (conns[i].flip_waiting) send_flip_event(&conns[i]);
}

static void sd_ready(void) {
  const char* path = getenv("NOTIFY_SOCKET");
  if (!path || !*path) return;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  size_t len = strlen(path);
  if (len >= sizeof a.sun_path) return;
  memcpy(a.sun_path, path, len);
  if (a.sun_path[0] == '@') a.sun_path[0] = 0;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  static const char msg[] = "READY=1\n";
  sendto(fd, msg, sizeof msg - 1, 0, (struct sockaddr*)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
  close(fd);
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--sim-dir") && i + 1 < argc)
      sim_dir = argv[++i];
    else if (!strcmp(argv[i], "--domid") && i + 1 < argc)
      own_domid = (uint32_t)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--vblank-hz") && i + 1 < argc)
      vblank_hz = atoi(argv[++i]);
    else
      die("usage: ring-floor --sim-dir DIR [--domid N] [--vblank-hz HZ]");
  }
  if (!sim_dir) die("--sim-dir is required");
  setvbuf(stdout, NULL, _IOLBF, 0);

  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s/xen/dom%u.sock", sim_dir, own_domid);
  hv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (hv < 0 || connect(hv, (struct sockaddr*)&a, sizeof a) < 0)
    die("cannot reach %s: %s", a.sun_path, strerror(errno));
  uint32_t nr;
  uint32_t* info = call(HV_INFO, NULL, 0, &nr);
  if ((int32_t)info[0] != 0 || info[1] != own_domid) die("the hypervisor refused domain %u", own_domid);
  free(info);
  sd_ready();

  int tfd = -1;
  if (vblank_hz > 0) {
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    long period = 1000000000L / vblank_hz;
    struct itimerspec its = {.it_interval = {0, period}, .it_value = {0, period}};
    if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0) die("timerfd: %s", strerror(errno));
  }

  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll: %s", strerror(errno));
  int fds[3] = {hv, 0, tfd};
  for (uint32_t k = 0; k < 3; k++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = k};
    if (fds[k] >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fds[k], &ev) < 0) die("epoll_ctl: %s", strerror(errno));
  }

  char line[512];
  size_t line_len = 0;
  for (;;) {
    struct epoll_event evs[64];
    int n = epoll_wait(ep, evs, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait: %s", strerror(errno));
    }
    int stdin_ready = 0;
    for (int k = 0; k < n; k++) {
      uint32_t who = evs[k].data.u32;
      if (who >= 3) {
        on_bell(&conns[who - 3]);
      } else if (who == 0) {
        read_more(1);
        uint32_t* w;
        size_t bytes;
        while ((bytes = peek_frame(&w)) != 0) {
          if (w[1] == HV_EVTCHN_PEER && w[0] == 6) on_peer(w + 3);
          consume_frame(bytes);
        }
      } else if (who == 2) {
        on_tick(tfd);
      } else {
        stdin_ready = 1;
      }
    }
    if (stdin_ready) {
      ssize_t r = read(0, line + line_len, sizeof line - 1 - line_len);
      if (r <= 0) break;
      line_len += (size_t)r;
      char* nl;
      while ((nl = memchr(line, '\n', line_len)) != NULL) {
        *nl = 0;
        if (!strncmp(line, "add ", 4))
          add_conn(line);
        else if (!strcmp(line, "stats"))
          printf("requests %" PRIu64 " events %" PRIu64 " dbufs %" PRIu64 "\n", n_requests, n_events, n_dbufs);
        else
          printf("err unknown command\n");
        size_t used = (size_t)(nl - line) + 1;
        memmove(line, nl + 1, line_len - used);
        line_len -= used;
      }
      if (line_len == sizeof line - 1) line_len = 0;
    }
  }
  return 0;
}
