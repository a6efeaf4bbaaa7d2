/*
 * e2e-input: the input lab's two ends, built static into the e2e image (dom0 and guest).
 *
 *   e2e-input make FIFO     (dom0) creates three uinput devices and prints "<k|p|t> /dev/input/eventN"
 *                           for each: k a keyboard, p an absolute pointer (ABS_X/ABS_Y 0..32767,
 *                           BTN_LEFT/RIGHT, direct), t a multi-touch screen (10 slots, 0..4095,
 *                           direct). Then it reads FIFO, again and again, one command a line:
 *                             <k|p|t> TYPE CODE VALUE   one input_event on that device
 *                             s MS                      sleep MS milliseconds
 *                           and writes "batch N done" to stdout after each writer closes.
 *   e2e-input record SECS   (guest) prints "dev eventN NAME" and "abs eventN CODE MIN MAX" for every
 *                           /dev/input/event*, then "ev eventN TYPE CODE VALUE" for each event read,
 *                           line-buffered, for SECS seconds.
 *
 * The image has no python and Debian's evemu needs a recording file per device; this is a few
 * ioctls in either direction, the same binary on both sides.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <linux/uinput.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "e2e-input: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void ioc(int fd, unsigned long req, long arg, const char *what) {
  if (ioctl(fd, req, arg) < 0) die(what);
}

static void abs_axis(int fd, int code, int min, int max) {
  struct uinput_abs_setup a;
  memset(&a, 0, sizeof a);
  a.code = code;
  a.absinfo.minimum = min;
  a.absinfo.maximum = max;
  if (ioctl(fd, UI_ABS_SETUP, &a) < 0) die("UI_ABS_SETUP");
}

/* Creates the device and returns its fd; prints its event node. */
static int create(char tag, const char *name) {
  int fd = open("/dev/uinput", O_WRONLY | O_CLOEXEC);
  if (fd < 0) die("/dev/uinput");
  if (tag == 'k') {
    ioc(fd, UI_SET_EVBIT, EV_KEY, "UI_SET_EVBIT");
    for (int k = KEY_ESC; k <= KEY_MICMUTE; k++) ioc(fd, UI_SET_KEYBIT, k, "UI_SET_KEYBIT");
  } else if (tag == 'p') {
    ioc(fd, UI_SET_EVBIT, EV_KEY, "UI_SET_EVBIT");
    ioc(fd, UI_SET_KEYBIT, BTN_LEFT, "UI_SET_KEYBIT");
    ioc(fd, UI_SET_KEYBIT, BTN_RIGHT, "UI_SET_KEYBIT");
    ioc(fd, UI_SET_EVBIT, EV_ABS, "UI_SET_EVBIT");
    ioc(fd, UI_SET_ABSBIT, ABS_X, "UI_SET_ABSBIT");
    ioc(fd, UI_SET_ABSBIT, ABS_Y, "UI_SET_ABSBIT");
    ioc(fd, UI_SET_PROPBIT, INPUT_PROP_DIRECT, "UI_SET_PROPBIT");
    abs_axis(fd, ABS_X, 0, 32767);
    abs_axis(fd, ABS_Y, 0, 32767);
  } else {
    ioc(fd, UI_SET_EVBIT, EV_KEY, "UI_SET_EVBIT");
    ioc(fd, UI_SET_KEYBIT, BTN_TOUCH, "UI_SET_KEYBIT");
    ioc(fd, UI_SET_EVBIT, EV_ABS, "UI_SET_EVBIT");
    int axes[] = {ABS_X, ABS_Y, ABS_MT_SLOT, ABS_MT_TRACKING_ID, ABS_MT_POSITION_X, ABS_MT_POSITION_Y};
    for (unsigned i = 0; i < sizeof axes / sizeof axes[0]; i++) ioc(fd, UI_SET_ABSBIT, axes[i], "UI_SET_ABSBIT");
    ioc(fd, UI_SET_PROPBIT, INPUT_PROP_DIRECT, "UI_SET_PROPBIT");
    abs_axis(fd, ABS_X, 0, 4095);
    abs_axis(fd, ABS_Y, 0, 4095);
    abs_axis(fd, ABS_MT_SLOT, 0, 9);
    abs_axis(fd, ABS_MT_TRACKING_ID, 0, 65535);
    abs_axis(fd, ABS_MT_POSITION_X, 0, 4095);
    abs_axis(fd, ABS_MT_POSITION_Y, 0, 4095);
  }
  struct uinput_setup s;
  memset(&s, 0, sizeof s);
  s.id.bustype = BUS_VIRTUAL;
  s.id.vendor = 0x1d6b;
  s.id.product = tag;
  snprintf(s.name, sizeof s.name, "%s", name);
  if (ioctl(fd, UI_DEV_SETUP, &s) < 0) die("UI_DEV_SETUP");
  if (ioctl(fd, UI_DEV_CREATE) < 0) die("UI_DEV_CREATE");
  char sys[64] = {0};
  if (ioctl(fd, UI_GET_SYSNAME(sizeof sys - 1), sys) < 0) die("UI_GET_SYSNAME");
  char dir[128];
  snprintf(dir, sizeof dir, "/sys/devices/virtual/input/%s", sys);
  /* the evdev node appears a moment after the device */
  for (int tries = 0; tries < 100; tries++) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
      if (strncmp(e->d_name, "event", 5) != 0) continue;
      char node[300];
      snprintf(node, sizeof node, "/dev/input/%s", e->d_name);
      if (access(node, R_OK) == 0) {
        printf("%c %s\n", tag, node);
        fflush(stdout);
        closedir(d);
        return fd;
      }
    }
    if (d) closedir(d);
    usleep(50000);
  }
  fprintf(stderr, "e2e-input: no event node under %s\n", dir);
  exit(1);
}

static __attribute__((noreturn)) void make(const char *fifo) {
  int fds[3];
  fds[0] = create('k', "e2e keyboard");
  fds[1] = create('p', "e2e pointer");
  fds[2] = create('t', "e2e touchscreen");
  printf("ready\n");
  fflush(stdout);
  for (unsigned batch = 1;; batch++) {
    FILE *f = fopen(fifo, "r");
    if (!f) die(fifo);
    char line[128];
    unsigned n = 0;
    while (fgets(line, sizeof line, f)) {
      char tag;
      int type, code, value;
      if (sscanf(line, "s %d", &value) == 1) {
        usleep(value * 1000);
        continue;
      }
      if (sscanf(line, "%c %d %d %d", &tag, &type, &code, &value) != 4) continue;
      int fd = tag == 'k' ? fds[0] : tag == 'p' ? fds[1] : tag == 't' ? fds[2] : -1;
      if (fd < 0) continue;
      struct input_event ev;
      memset(&ev, 0, sizeof ev);
      ev.type = type;
      ev.code = code;
      ev.value = value;
      if (write(fd, &ev, sizeof ev) != sizeof ev) die("write");
      n++;
    }
    fclose(f);
    printf("batch %u done: %u events\n", batch, n);
    fflush(stdout);
  }
}

static int record(int secs) {
  struct pollfd pfd[32];
  char names[32][64];
  int n = 0;
  DIR *d = opendir("/dev/input");
  struct dirent *e;
  while (d && (e = readdir(d)) && n < 32) {
    if (strncmp(e->d_name, "event", 5) != 0) continue;
    char node[300];
    snprintf(node, sizeof node, "/dev/input/%s", e->d_name);
    int fd = open(node, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    char name[128] = "?";
    ioctl(fd, EVIOCGNAME(sizeof name - 1), name);
    snprintf(names[n], sizeof names[n], "%.60s", e->d_name);
    printf("dev %s %s\n", names[n], name);
    unsigned long absbits[(ABS_CNT + 63) / 64] = {0};
    if (ioctl(fd, EVIOCGBIT(EV_ABS, sizeof absbits), absbits) >= 0) {
      for (int c = 0; c < ABS_CNT; c++) {
        if (!(absbits[c / 64] >> (c % 64) & 1)) continue;
        struct input_absinfo ai;
        if (ioctl(fd, EVIOCGABS(c), &ai) == 0) printf("abs %s %d %d %d\n", names[n], c, ai.minimum, ai.maximum);
      }
    }
    pfd[n].fd = fd;
    pfd[n].events = POLLIN;
    n++;
  }
  if (d) closedir(d);
  printf("recording %d devices\n", n);
  fflush(stdout);
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    long left = secs * 1000L - ((now.tv_sec - t0.tv_sec) * 1000L + (now.tv_nsec - t0.tv_nsec) / 1000000L);
    if (left <= 0) break;
    if (poll(pfd, n, (int)left) < 0 && errno != EINTR) die("poll");
    for (int i = 0; i < n; i++) {
      if (!(pfd[i].revents & POLLIN)) continue;
      struct input_event ev[64];
      ssize_t r = read(pfd[i].fd, ev, sizeof ev);
      for (ssize_t j = 0; r > 0 && j < r / (ssize_t)sizeof ev[0]; j++)
        printf("ev %s %u %u %d\n", names[i], ev[j].type, ev[j].code, ev[j].value);
    }
    fflush(stdout);
  }
  printf("recorded\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "make") == 0) make(argv[2]);
  if (argc == 3 && strcmp(argv[1], "record") == 0) return record(atoi(argv[2]));
  fprintf(stderr, "usage: e2e-input make FIFO | record SECONDS\n");
  return 2;
}
