/*
 * The XenStore floor: the same reads and watches as vdispld's XenStore client does in
 * bench/suites/xenstore.ts, by a minimal C client speaking io/xs_wire.h on the same socket of the
 * same simulated xenstored. The keys /bench/k0../bench/k63 must exist.
 *
 *   xs-floor SOCKET SECONDS
 *
 * Prints one JSON object: sequential reads/s, reads/s with 64 in flight, and the latency of each
 * watch event (a write on one connection to the event on another), in microseconds.
 *
 * Build: cc -O2 -o xs-floor xs-floor.c (the benchmark does it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#define DEPTH 64
#define MAX_WATCH_SAMPLES 20000

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char* what) {
  fprintf(stderr, "xs-floor: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int connect_to(const char* path) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr*)&a, sizeof a) < 0) die("connect");
  return fd;
}

static void send_msg(int fd, uint32_t type, uint32_t req_id, const char* a, size_t alen, const char* b, size_t blen) {
  char buf[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
  struct xsd_sockmsg* m = (struct xsd_sockmsg*)buf;
  m->type = type;
  m->req_id = req_id;
  m->tx_id = 0;
  m->len = (uint32_t)(alen + blen);
  memcpy(buf + sizeof *m, a, alen);
  if (blen) memcpy(buf + sizeof *m + alen, b, blen);
  size_t left = sizeof *m + alen + blen;
  const char* p = buf;
  while (left) {
    ssize_t n = write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("write");
    }
    p += n;
    left -= (size_t)n;
  }
}

static void read_full(int fd, void* dst, size_t len) {
  char* p = dst;
  while (len) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("read");
    p += n;
    len -= (size_t)n;
  }
}

/* Reads one message; its payload goes to `payload` (XENSTORE_PAYLOAD_MAX bytes). */
static struct xsd_sockmsg recv_msg(int fd, char* payload) {
  struct xsd_sockmsg m;
  read_full(fd, &m, sizeof m);
  if (m.len > XENSTORE_PAYLOAD_MAX) {
    errno = EPROTO;
    die("oversized message");
  }
  read_full(fd, payload, m.len);
  if (m.type == XS_ERROR) {
    errno = EIO;
    die(payload);
  }
  return m;
}

static char keys[DEPTH][32];
static size_t key_len[DEPTH];

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: xs-floor SOCKET SECONDS\n");
    return 2;
  }
  double seconds = atof(argv[2]);
  char payload[XENSTORE_PAYLOAD_MAX + 1];
  for (int i = 0; i < DEPTH; i++) key_len[i] = (size_t)snprintf(keys[i], sizeof keys[i], "/bench/k%d", i) + 1;
  int reader = connect_to(argv[1]);
  int writer = connect_to(argv[1]);

  long n = 0;
  double t0 = now_s();
  while (now_s() - t0 < seconds) {
    send_msg(reader, XS_READ, (uint32_t)n, keys[n & (DEPTH - 1)], key_len[n & (DEPTH - 1)], NULL, 0);
    recv_msg(reader, payload);
    n++;
  }
  double sequential = (double)n / (now_s() - t0);

  n = 0;
  t0 = now_s();
  while (now_s() - t0 < seconds) {
    for (int i = 0; i < DEPTH; i++) send_msg(reader, XS_READ, (uint32_t)i, keys[i], key_len[i], NULL, 0);
    for (int i = 0; i < DEPTH; i++) recv_msg(reader, payload);
    n += DEPTH;
  }
  double pipelined = (double)n / (now_s() - t0);

  static const char watched[] = "/bench/watched";
  static const char token[] = "t";
  send_msg(reader, XS_WATCH, 1, watched, sizeof watched, token, sizeof token);
  /* The reply and the event every new watch fires once. */
  for (int seen = 0; seen < 2;) {
    struct xsd_sockmsg m = recv_msg(reader, payload);
    if (m.type == XS_WATCH || m.type == XS_WATCH_EVENT) seen++;
  }
  static double samples[MAX_WATCH_SAMPLES];
  int ns = 0;
  t0 = now_s();
  while (now_s() - t0 < seconds && ns < MAX_WATCH_SAMPLES) {
    char value[32];
    int vlen = snprintf(value, sizeof value, "%d", ns);
    double sent = now_s();
    send_msg(writer, XS_WRITE, (uint32_t)ns, watched, sizeof watched, value, (size_t)vlen);
    struct xsd_sockmsg m;
    do m = recv_msg(reader, payload);
    while (m.type != XS_WATCH_EVENT);
    samples[ns++] = (now_s() - sent) * 1e6;
    recv_msg(writer, payload);
  }
  printf("{\"readsPerSecSequential\":%.0f,\"readsPerSecPipelined\":%.0f,\"pipelineDepth\":%d,\"watchUs\":[", sequential,
         pipelined, DEPTH);
  for (int i = 0; i < ns; i++) printf("%s%.1f", i ? "," : "", samples[i]);
  printf("]}\n");
  close(reader);
  close(writer);
  return 0;
}
