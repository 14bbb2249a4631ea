// Header-only: this target exists to export <sys/epoll.h> to Swift.
#include "CEpoll.h"
