// The state of a form built from field descriptions: values, options, visibility and errors,
// with the API's per-parameter errors mapped to the field that sends each parameter.

import type { ReactNode } from 'react';

export interface Option {
  value: string;
  label: string;
  [extra: string]: unknown;
}

export type FieldValue = string | boolean | string[];

export interface FieldSpec {
  name: string;
  label?: string;
  type?: 'text' | 'password' | 'email' | 'number' | 'textarea' | 'select' | 'checkbox' | 'date' | 'multiselect' | 'display' | 'custom';
  value?: FieldValue | number | null;
  required?: boolean;
  options?: (Option | string)[];
  placeholder?: string;
  help?: string;
  disabled?: boolean;
  hidden?: boolean;
  wide?: boolean;
  autocomplete?: string;
  min?: number;
  max?: number;
  rows?: number;
  emptyText?: string;
  /** Suggestions (a datalist). */
  list?: string[];
  /** API parameters whose errors show at this field (default: [name]). */
  params?: string[];
  validate?: (value: FieldValue, all: Record<string, FieldValue>) => string | null;
  /** type 'custom': renders the control; reads and writes its value through the model. */
  render?: (model: FormModel, id: string) => ReactNode;
  /** Called after the value changed (by the user). */
  onChange?: (value: FieldValue, model: FormModel) => void;
}

export function optionList(options: (Option | string)[] | undefined): Option[] {
  return (options || []).map((o) => (typeof o === 'object' ? o : { value: o, label: String(o) }));
}

let uid = 0;

/** A form's state; React views subscribe to it. */
export class FormModel {
  readonly fields: FieldSpec[];
  readonly ids = new Map<string, string>();
  values: Record<string, FieldValue> = {};
  options: Record<string, Option[]> = {};
  hidden: Record<string, boolean> = {};
  errors: Record<string, string> = {};
  message = '';
  version = 0;
  private focusers = new Map<string, () => void>();
  private listeners = new Set<() => void>();

  constructor(fields: FieldSpec[]) {
    this.fields = fields;
    for (const f of fields) {
      uid += 1;
      this.ids.set(f.name, `${f.name}-${uid}`);
      this.options[f.name] = optionList(f.options);
      this.hidden[f.name] = Boolean(f.hidden);
      let v: FieldValue;
      if (f.type === 'checkbox') v = Boolean(f.value);
      else if (f.type === 'multiselect') v = Array.isArray(f.value) ? f.value : [];
      else if (f.type === 'custom') v = (f.value ?? '') as FieldValue;
      else if (f.type === 'select' && (f.value === undefined || f.value === null)) v = this.options[f.name][0]?.value ?? '';
      else v = f.value === undefined || f.value === null ? '' : String(f.value);
      this.values[f.name] = v;
    }
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  snapshot = (): number => this.version;

  private changed(): void {
    this.version += 1;
    for (const fn of this.listeners) fn();
  }

  field(name: string): FieldSpec | undefined {
    return this.fields.find((f) => f.name === name);
  }

  /** The values of visible, editable fields (text trimmed, except passwords). */
  getValues(): Record<string, FieldValue> {
    const out: Record<string, FieldValue> = {};
    for (const f of this.fields) {
      if (f.type === 'display' || this.hidden[f.name]) continue;
      const v = this.values[f.name];
      out[f.name] = typeof v === 'string' && f.type !== 'password' ? v.trim() : v;
    }
    return out;
  }

  get(name: string): FieldValue | undefined {
    return this.values[name];
  }

  set(name: string, value: FieldValue, { user = false } = {}): void {
    this.values[name] = value;
    this.changed();
    if (user) this.field(name)?.onChange?.(value, this);
  }

  setOptions(name: string, options: (Option | string)[], value?: FieldValue): void {
    this.options[name] = optionList(options);
    if (value !== undefined) this.values[name] = value;
    else if (this.field(name)?.type === 'select' && !this.options[name].some((o) => o.value === this.values[name])) {
      this.values[name] = this.options[name][0]?.value ?? '';
    }
    this.changed();
  }

  show(name: string, visible: boolean): void {
    this.hidden[name] = !visible;
    this.changed();
  }

  isShown(name: string): boolean {
    return !this.hidden[name];
  }

  registerFocus(name: string, fn: () => void): void {
    this.focusers.set(name, fn);
  }

  focus(name: string): void {
    this.focusers.get(name)?.();
  }

  clearErrors(): void {
    this.errors = {};
    this.message = '';
    this.changed();
  }

  setFieldError(name: string, text: string): boolean {
    if (!this.field(name)) return false;
    this.errors = { ...this.errors, [name]: text };
    this.changed();
    return true;
  }

  setMessage(text: string): void {
    this.message = text || '';
    this.changed();
  }

  /** An API error: each `errors[param]` next to the field sending `param`, the rest above. */
  showError(err: { message?: string; errors?: Record<string, string> | null }): void {
    this.errors = {};
    const rest: string[] = [];
    for (const [param, text] of Object.entries(err.errors || {})) {
      const target = this.fields.find((f) => !this.hidden[f.name] && (f.params || [f.name]).includes(param));
      if (target) this.errors[target.name] = text;
      else rest.push(`${param}: ${text}`);
    }
    this.message = [err.message, ...rest].filter(Boolean).join('\n');
    this.changed();
    const first = this.fields.find((f) => this.errors[f.name]);
    if (first) setTimeout(() => this.focus(first.name), 0);
  }

  /** Required fields and each field's own check (of `names` only, if given); true when all pass. */
  validate(names?: string[]): boolean {
    const values = this.getValues();
    const errors: Record<string, string> = {};
    let firstBad: string | null = null;
    for (const f of this.fields) {
      if (this.hidden[f.name] || f.type === 'display' || (names && !names.includes(f.name))) continue;
      const v = values[f.name];
      let problem: string | null = null;
      if (f.required && (v === '' || v === undefined || (Array.isArray(v) && !v.length))) problem = 'This field is required.';
      else if (f.validate) problem = f.validate(v, values);
      if (problem) {
        errors[f.name] = problem;
        firstBad ??= f.name;
      }
    }
    this.errors = errors;
    this.message = '';
    this.changed();
    if (firstBad) this.focus(firstBad);
    return !firstBad;
  }

  focusFirst(): void {
    const first = this.fields.find((f) => !this.hidden[f.name] && !f.disabled && f.type !== 'display');
    if (first) this.focus(first.name);
  }
}
