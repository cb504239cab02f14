#include "scorematch/version.h"

const char *sm_version_string(void)
{
    return SM_VERSION_STRING;
}

unsigned sm_version_number(void)
{
    return SM_VERSION_NUMBER;
}
