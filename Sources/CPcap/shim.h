// libpcap, as installed by Debian's libpcap-dev.
#include <pcap/pcap.h>
// __fsetlocking: a capture file's stdio stream is used by one thread, so it skips stdio's locks.
#include <stdio_ext.h>
