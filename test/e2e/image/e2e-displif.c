/*
 * e2e-displif: a displif frontend in a guest's userspace, built static into the e2e guest image. It grants
 * its own pages (gntalloc), binds its own event channels (evtchn) and talks to the backend through the
 * frontend directory the toolstack made, after the real xen-drm-front has been unbound from it. So it
 * can send what the Linux driver never would: a page directory that names one ref many times.
 *
 *   e2e-displif hostile DEV FIFO DATA   connects connector 0 of DEV (e.g. device/vdispl/0), grants DATA
 *                                        data pages, prints "connected", then reads FIFO, one command a
 *                                        line, and prints one line per answer:
 *       create COOKIE PAGES DISTINCT FIRST   DBUF_CREATE of PAGES pages (1024 x PAGES, 32 bpp) whose
 *                                        directory lists data refs FIRST..FIRST+DISTINCT-1 round robin
 *                                        (DISTINCT 1: one ref, PAGES times); prints
 *                                        "create COOKIE PAGES DISTINCT FIRST ref R status S ms T",
 *                                        R the grant ref of data page FIRST
 *       destroy COOKIE                   DBUF_DESTROY; prints "destroy COOKIE status S"
 *     and "batch N done" after each writer closes the FIFO.
 *   e2e-displif good DEV SECONDS W H    connects, creates, attaches and shows one WxH XRGB8888 buffer,
 *                                        then flips it at 60 frames/s for SECONDS (the next flip no sooner
 *                                        than 1/60 s after the last, and only once its flip event came),
 *                                        printing for each second of the run "sec N flips F max MS" (F flip
 *                                        events in that second, MS the longest interval ending in it),
 *                                        and at the end
 *                                        "flips F max MS over2 K" (K intervals over two frame periods).
 *
 * XenStore goes through the image's xenstore-read/xenstore-write (paths relative to the domain).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xen/gntalloc.h>

/* ring.h's barriers are the includer's to define */
#define xen_mb() __sync_synchronize()
#define xen_rmb() __sync_synchronize()
#define xen_wmb() __sync_synchronize()
#define mb() __sync_synchronize()
#define rmb() __sync_synchronize()
#define wmb() __sync_synchronize()
#include <xen/io/displif.h>
#include <xen/io/xenbus.h>
/* after the Xen headers: the Linux header uses their domid_t */
#include <xen/evtchn.h>

#define PAGE 4096
#define REFS_PER_DIR ((PAGE - 4) / 4)

static void die(const char *what) {
  fprintf(stderr, "e2e-displif: %s: %s\n", what, strerror(errno));
  exit(1);
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* ---- XenStore through the image's client */
static void xs_write(const char *path, const char *value) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "xenstore-write '%s' '%s'", path, value);
  if (system(cmd) != 0) {
    fprintf(stderr, "e2e-displif: %s failed\n", cmd);
    exit(1);
  }
}

static int xs_read(const char *path, char *out, size_t n) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "xenstore-read '%s' 2>/dev/null", path);
  FILE *p = popen(cmd, "r");
  if (!p) die("popen");
  out[0] = 0;
  if (!fgets(out, (int)n, p)) out[0] = 0;
  int rc = pclose(p);
  out[strcspn(out, "\n")] = 0;
  return rc == 0 ? 0 : -1;
}

/* Waits until the backend's state is `want`; exits after 120 s. */
static void wait_backend(const char *be, int want) {
  char path[300], v[64];
  snprintf(path, sizeof path, "%s/state", be);
  for (int i = 0; i < 600; i++) {
    if (xs_read(path, v, sizeof v) == 0 && atoi(v) == want) return;
    usleep(200000);
  }
  fprintf(stderr, "e2e-displif: backend %s never reached state %d (last %s)\n", be, want, v);
  exit(1);
}

/* ---- grants: every page this frontend shares, from one gntalloc fd */
static int gnt_fd = -1;

/* Grants `count` fresh zeroed pages to dom0 (writable); returns them mapped, their refs in refs[]. */
static void *grant_pages(uint32_t count, uint32_t *refs) {
  size_t sz = sizeof(struct ioctl_gntalloc_alloc_gref) + count * sizeof(uint32_t);
  struct ioctl_gntalloc_alloc_gref *a = calloc(1, sz);
  if (!a) die("calloc");
  a->domid = 0;
  a->flags = GNTALLOC_FLAG_WRITABLE;
  a->count = count;
  if (ioctl(gnt_fd, IOCTL_GNTALLOC_ALLOC_GREF, a) < 0) die("IOCTL_GNTALLOC_ALLOC_GREF");
  void *p = mmap(NULL, (size_t)count * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, gnt_fd, (off_t)a->index);
  if (p == MAP_FAILED) die("mmap gntalloc");
  memcpy(refs, a->gref_ids, count * sizeof(uint32_t));
  free(a);
  return p;
}

/* ---- the connection: connector 0's request ring and event page */
static int evt_fd = -1;
static unsigned req_port;
static struct xen_displif_front_ring ring;
static struct xendispl_event_page *evpage;
static uint16_t next_id = 1;

static unsigned bind_unbound(void) {
  struct ioctl_evtchn_bind_unbound_port b = {.remote_domain = 0};
  int port = ioctl(evt_fd, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &b);
  if (port < 0) die("IOCTL_EVTCHN_BIND_UNBOUND_PORT");
  return (unsigned)port;
}

static void connect_dev(const char *dev) {
  gnt_fd = open("/dev/xen/gntalloc", O_RDWR | O_CLOEXEC);
  if (gnt_fd < 0) die("/dev/xen/gntalloc");
  evt_fd = open("/dev/xen/evtchn", O_RDWR | O_CLOEXEC);
  if (evt_fd < 0) die("/dev/xen/evtchn");
  uint32_t ring_ref, evt_ref;
  struct xen_displif_sring *sring = grant_pages(1, &ring_ref);
  SHARED_RING_INIT(sring);
  FRONT_RING_INIT(&ring, sring, PAGE);
  evpage = grant_pages(1, &evt_ref);
  req_port = bind_unbound();
  unsigned evt_port = bind_unbound();

  char be[256], path[300], v[64];
  snprintf(path, sizeof path, "%s/backend", dev);
  if (xs_read(path, be, sizeof be) != 0) die("no backend node");
  wait_backend(be, XenbusStateInitWait);
#define W(key, fmt, val)                                  \
  do {                                                    \
    snprintf(path, sizeof path, "%s/%s", dev, key);       \
    snprintf(v, sizeof v, fmt, val);                      \
    xs_write(path, v);                                    \
  } while (0)
  W("version", "%s", XENDISPL_PROTOCOL_VERSION);
  W("0/" XENDISPL_FIELD_REQ_RING_REF, "%u", ring_ref);
  W("0/" XENDISPL_FIELD_REQ_CHANNEL, "%u", req_port);
  W("0/" XENDISPL_FIELD_EVT_RING_REF, "%u", evt_ref);
  W("0/" XENDISPL_FIELD_EVT_CHANNEL, "%u", evt_port);
  W("state", "%d", XenbusStateInitialised);
  wait_backend(be, XenbusStateConnected);
  W("state", "%d", XenbusStateConnected);
#undef W
  printf("connected: ring ref %u port %u, event ref %u port %u\n", ring_ref, req_port, evt_ref, evt_port);
  fflush(stdout);
}

/*
 * Blocks until one of this frontend's ports fires or `ms` pass, and unmasks what fired. Polling the
 * shared pages with short sleeps instead cost a PV guest under emulation a timer hypercall per
 * wake-up and kept its only vCPU busy: its flips came at a few per second.
 */
static void wait_port(int ms) {
  struct pollfd p = {.fd = evt_fd, .events = POLLIN};
  if (poll(&p, 1, ms) <= 0) return;
  unsigned ports[16];
  ssize_t n = read(evt_fd, ports, sizeof ports);
  if (n > 0 && write(evt_fd, ports, (size_t)n) != n) die("evtchn unmask");
}

/* Sends one request and waits (up to 120 s) for its answer; returns the status. */
static int call(struct xendispl_req *r) {
  r->id = next_id++;
  struct xendispl_req *slot = RING_GET_REQUEST(&ring, ring.req_prod_pvt);
  memcpy(slot, r, sizeof *r);
  ring.req_prod_pvt++;
  int notify;
  RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&ring, notify);
  if (notify) {
    struct ioctl_evtchn_notify n = {.port = req_port};
    if (ioctl(evt_fd, IOCTL_EVTCHN_NOTIFY, &n) < 0) die("IOCTL_EVTCHN_NOTIFY");
  }
  double t0 = now_ms();
  for (;;) {
    while (RING_HAS_UNCONSUMED_RESPONSES(&ring)) {
      struct xendispl_resp *rsp = RING_GET_RESPONSE(&ring, ring.rsp_cons);
      ring.rsp_cons++;
      int more;
      RING_FINAL_CHECK_FOR_RESPONSES(&ring, more);
      (void)more;
      if (rsp->id == r->id) return rsp->status;
    }
    if (now_ms() - t0 > 120000) {
      fprintf(stderr, "e2e-displif: no answer to request %u (op 0x%x) in 120 s\n", r->id, r->operation);
      exit(1);
    }
    wait_port(100);
  }
}

/* ---- directories: enough pages for the device's largest buffer, written afresh for each creation */
static uint32_t *dir_refs;
static unsigned dir_pages;
static uint8_t *dir_mem;

static void grant_directory(unsigned max_refs) {
  dir_pages = (max_refs + REFS_PER_DIR - 1) / REFS_PER_DIR;
  dir_refs = calloc(dir_pages, sizeof *dir_refs);
  if (!dir_refs) die("calloc");
  dir_mem = grant_pages(dir_pages, dir_refs);
}

/* Lists `pages` refs taken round robin from refs[0..distinct-1]; returns the first directory ref. */
static uint32_t write_directory(unsigned pages, const uint32_t *refs, unsigned distinct) {
  unsigned used = (pages + REFS_PER_DIR - 1) / REFS_PER_DIR;
  memset(dir_mem, 0, (size_t)dir_pages * PAGE);
  for (unsigned i = 0; i < pages; i++) {
    struct xendispl_page_directory *d = (void *)(dir_mem + (size_t)(i / REFS_PER_DIR) * PAGE);
    d->gref[i % REFS_PER_DIR] = refs[i % distinct];
  }
  for (unsigned p = 0; p + 1 < used; p++)
    ((struct xendispl_page_directory *)(dir_mem + (size_t)p * PAGE))->gref_dir_next_page = dir_refs[p + 1];
  __sync_synchronize();
  return dir_refs[0];
}

static int dbuf_create(uint64_t cookie, unsigned w, unsigned h, unsigned pages, const uint32_t *refs,
                       unsigned distinct) {
  struct xendispl_req r;
  memset(&r, 0, sizeof r);
  r.operation = XENDISPL_OP_DBUF_CREATE;
  r.op.dbuf_create.dbuf_cookie = cookie;
  r.op.dbuf_create.width = w;
  r.op.dbuf_create.height = h;
  r.op.dbuf_create.bpp = 32;
  r.op.dbuf_create.buffer_sz = pages * PAGE;
  r.op.dbuf_create.gref_directory = write_directory(pages, refs, distinct);
  return call(&r);
}

static __attribute__((noreturn)) void hostile(const char *dev, const char *fifo, unsigned data) {
  connect_dev(dev);
  grant_directory(16384 * 4); /* far past any buffer-pages quota: the backend's refusal is the figure */
  uint32_t *refs = calloc(data, sizeof *refs);
  if (!refs) die("calloc");
  grant_pages(data, refs);
  printf("granted %u data pages, %u directory pages\n", data, dir_pages);
  fflush(stdout);
  for (unsigned batch = 1;; batch++) {
    FILE *f = fopen(fifo, "r");
    if (!f) die(fifo);
    char line[128];
    while (fgets(line, sizeof line, f)) {
      unsigned long long cookie;
      unsigned pages, distinct, first;
      if (sscanf(line, "create %llu %u %u %u", &cookie, &pages, &distinct, &first) == 4) {
        if (distinct < 1 || first >= data || distinct > data - first || pages < 1 ||
            pages > dir_pages * REFS_PER_DIR) {
          printf("create %llu: bad arguments\n", cookie);
          fflush(stdout);
          continue;
        }
        double t0 = now_ms();
        int s = dbuf_create(cookie, 1024, pages, pages, refs + first, distinct);
        printf("create %llu %u %u %u ref %u status %d ms %.0f\n", cookie, pages, distinct, first, refs[first], s,
               now_ms() - t0);
      } else if (sscanf(line, "destroy %llu", &cookie) == 1) {
        struct xendispl_req r;
        memset(&r, 0, sizeof r);
        r.operation = XENDISPL_OP_DBUF_DESTROY;
        r.op.dbuf_destroy.dbuf_cookie = cookie;
        printf("destroy %llu status %d\n", cookie, call(&r));
      }
      fflush(stdout);
    }
    fclose(f);
    printf("batch %u done\n", batch);
    fflush(stdout);
  }
}

/* Waits (up to 3 s, as xen-drm-front) for a page-flip event; returns 0 or -1 on timeout. */
static int wait_flip_event(uint64_t fb) {
  double t0 = now_ms();
  for (;;) {
    uint32_t prod = __atomic_load_n(&evpage->in_prod, __ATOMIC_ACQUIRE);
    uint32_t cons = evpage->in_cons;
    int seen = 0;
    for (; cons != prod; cons++) {
      struct xendispl_evt *e = &XENDISPL_IN_RING_REF(evpage, cons);
      if (e->type == XENDISPL_EVT_PG_FLIP && e->op.pg_flip.fb_cookie == fb) seen = 1;
    }
    __atomic_store_n(&evpage->in_cons, cons, __ATOMIC_RELEASE);
    if (seen) return 0;
    if (now_ms() - t0 > 3000) return -1;
    wait_port(50);
  }
}

static int good(const char *dev, int seconds, unsigned w, unsigned h) {
  connect_dev(dev);
  unsigned pages = (w * h * 4 + PAGE - 1) / PAGE;
  grant_directory(pages);
  uint32_t *refs = calloc(pages, sizeof *refs);
  if (!refs) die("calloc");
  uint32_t *px = grant_pages(pages, refs);
  for (size_t i = 0; i < (size_t)w * h; i++) px[i] = 0x00336699;
  /*
   * The backend answers -ETIMEDOUT when mapping the buffer outlasts its 2 s deadline (it happened
   * under emulation on a loaded host, and it releases the late mapping): try again, as a driver could.
   */
  int s = -110;
  for (int i = 0; i < 5 && s == -110; i++) {
    s = dbuf_create(1, w, h, pages, refs, pages);
    if (s == -110) printf("create timed out, again\n");
  }
  struct xendispl_req r;
  memset(&r, 0, sizeof r);
  r.operation = XENDISPL_OP_FB_ATTACH;
  r.op.fb_attach.dbuf_cookie = 1;
  r.op.fb_attach.fb_cookie = 2;
  r.op.fb_attach.width = w;
  r.op.fb_attach.height = h;
  r.op.fb_attach.pixel_format = 0x34325258 /* fourcc XR24: XRGB8888 */;
  int a = s == 0 ? call(&r) : s;
  memset(&r, 0, sizeof r);
  r.operation = XENDISPL_OP_SET_CONFIG;
  r.op.set_config.fb_cookie = 2;
  r.op.set_config.width = w;
  r.op.set_config.height = h;
  r.op.set_config.bpp = 32;
  int c = a == 0 ? call(&r) : a;
  printf("shown: create %d attach %d config %d\n", s, a, c);
  fflush(stdout);
  if (c != 0) return 1;
  const double frame = 1000.0 / 60;
  double start = now_ms(), last_event = 0, last_send = 0, sec_max = 0, all_max = 0;
  unsigned flips = 0, sec_flips = 0, over2 = 0, timeouts = 0;
  int sec = 0;
  while (now_ms() - start < seconds * 1000.0) {
    double wait = last_send + frame - now_ms();
    if (wait > 0) usleep((useconds_t)(wait * 1000));
    memset(&r, 0, sizeof r);
    r.operation = XENDISPL_OP_PG_FLIP;
    r.op.pg_flip.fb_cookie = 2;
    last_send = now_ms();
    int st = call(&r);
    if (st != 0) printf("flip status %d\n", st);
    if (wait_flip_event(2) != 0) {
      timeouts++;
      printf("flip event timeout at %.0f ms\n", now_ms() - start);
    }
    double t = now_ms();
    /* one line per second of the run, seconds without a flip event included */
    for (int now_sec = (int)((t - start) / 1000); sec < now_sec; sec++) {
      printf("sec %d flips %u max %.1f\n", sec, sec_flips, sec_max);
      fflush(stdout);
      sec_flips = 0;
      sec_max = 0;
    }
    if (last_event > 0) {
      double iv = t - last_event;
      if (iv > sec_max) sec_max = iv;
      if (iv > all_max) all_max = iv;
      if (iv > 2 * frame) over2++;
    }
    last_event = t;
    flips++;
    sec_flips++;
  }
  printf("flips %u max %.1f over2 %u timeouts %u\n", flips, all_max, over2, timeouts);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "hostile") == 0) hostile(argv[2], argv[3], (unsigned)atoi(argv[4]));
  if (argc == 6 && strcmp(argv[1], "good") == 0)
    return good(argv[2], atoi(argv[3]), (unsigned)atoi(argv[4]), (unsigned)atoi(argv[5]));
  fprintf(stderr, "usage: e2e-displif hostile DEV FIFO DATA | good DEV SECONDS W H\n");
  return 2;
}
