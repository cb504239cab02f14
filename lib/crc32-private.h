/* CRC-32 for the model file format. Not installed. */
#ifndef SCOREMATCH_CRC32_PRIVATE_H
#define SCOREMATCH_CRC32_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC-32 (IEEE/zlib) over len bytes: start with crc = 0 and
 * feed the data in any number of pieces; the result equals zlib's
 * crc32(crc, buf, len). */
uint32_t sm__crc32(uint32_t crc, const void *buf, size_t len);

#endif
