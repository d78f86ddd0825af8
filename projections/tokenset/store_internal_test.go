package tokenset

import (
	"reflect"
	"testing"
	"unsafe"
)

// A record is two cache lines, and the collector has nothing to scan in
// it: the token set's size does not add to the work of each GC cycle.
func TestRecordIsTwoCacheLinesWithoutPointers(t *testing.T) {
	if n := unsafe.Sizeof(rec{}); n != 128 {
		t.Errorf("rec is %d bytes, want 128", n)
	}
	if p := pointerIn(reflect.TypeFor[rec](), "rec"); p != "" {
		t.Errorf("rec holds a pointer: %s", p)
	}
	if n := unsafe.Sizeof(vtable{}.slots[0]); n != 8 {
		t.Errorf("a verifier slot is %d bytes, want 8", n)
	}
}

// pointerIn names a field of t that is or holds a pointer, or is "".
func pointerIn(t reflect.Type, path string) string {
	switch t.Kind() {
	case reflect.Pointer, reflect.UnsafePointer, reflect.String, reflect.Slice, reflect.Map,
		reflect.Chan, reflect.Func, reflect.Interface:
		return path
	case reflect.Array:
		if t.Len() == 0 {
			return ""
		}
		return pointerIn(t.Elem(), path+"[]")
	case reflect.Struct:
		for i := range t.NumField() {
			if p := pointerIn(t.Field(i).Type, path+"."+t.Field(i).Name); p != "" {
				return p
			}
		}
	}
	return ""
}
