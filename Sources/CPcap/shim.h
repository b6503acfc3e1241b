// libpcap, as installed by Debian's libpcap-dev.
#include <pcap/pcap.h>
