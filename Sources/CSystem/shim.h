// Linux interfaces that Glibc's Swift module does not export.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <malloc.h>

// accept4 is declared by glibc only under _GNU_SOURCE, which a modular header cannot turn on.
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);
