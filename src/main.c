/* placeholder, replaced by the command table */
#include "common/err.h"
int main(void) { return EDR_OK; }
