// The Linux epoll API for the loopback probe (Swift's Glibc module does not export <sys/epoll.h>).
#pragma once
#ifdef __linux__
#include <sys/epoll.h>
#endif
