// A wizard in a window: steps of one FormModel, Back/Next/Finish, a confirm table of what will
// be sent. Finish calls `submit(values)`; the API's per-parameter errors show at their fields
// and take the user back to the first step that has one.

import * as Tabs from '@radix-ui/react-tabs';
import { useEffect, useRef, useState, useSyncExternalStore, type JSX } from 'react';
import type { ApiError, Params } from '../lib/api';
import { openWindow } from './Dialog';
import { FormView } from './Form';
import type { FieldValue, FormModel } from './form-model';

export interface WizardStep {
  id: string;
  title: string;
  fields: string[];
}

export interface WizardOptions {
  title: string;
  className?: string;
  steps: WizardStep[];
  model: () => FormModel;
  /** Runs once when the window opens (load options). */
  setup?: (model: FormModel) => void;
  firstField?: string;
  /** The request parameters the confirm step lists. */
  params: (values: Record<string, FieldValue>) => Params;
  /** Sends the request; resolves the task's UPID. */
  submit: (values: Record<string, FieldValue>) => Promise<string>;
  /** After success (the window is closed). */
  done: (upid: string, values: Record<string, FieldValue>) => void;
}

function WizardBody({ opts, close }: { opts: WizardOptions; close: (upid: string | null, values?: Record<string, FieldValue>) => void }): JSX.Element {
  const form = useRef(opts.model()).current;
  useSyncExternalStore(form.subscribe, form.snapshot);
  const [step, setStep] = useState(0);
  const [busy, setBusy] = useState(false);
  const steps = opts.steps;
  const last = steps.length - 1;

  useEffect(() => {
    opts.setup?.(form);
    setTimeout(() => (opts.firstField ? form.focus(opts.firstField) : form.focusFirst()), 0);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const goto = (i: number): void => {
    // Forward only past valid steps.
    for (let s = step; s < i; s += 1) {
      if (!form.validate(steps[s].fields)) {
        setStep(s);
        return;
      }
    }
    setStep(i);
  };
  const finish = async (): Promise<void> => {
    for (let s = 0; s < steps.length; s += 1) {
      if (!form.validate(steps[s].fields)) {
        setStep(s);
        return;
      }
    }
    setBusy(true);
    const v = form.getValues();
    try {
      close(await opts.submit(v), v);
    } catch (err) {
      setBusy(false);
      const e = err as ApiError;
      if (e.status === 401) {
        form.setMessage('Your session has expired: log in again, then press Finish again.');
        return;
      }
      form.showError(e);
      const bad = steps.findIndex((s) => s.fields.some((f) => form.errors[f]));
      if (bad >= 0) setStep(bad);
    }
  };

  const confirm = step === last
    ? Object.entries(opts.params(form.getValues())).filter(([k, x]) => x !== undefined && k !== 'start' && k !== 'password')
    : [];
  return (
    <>
      <div className="window-body wizard">
        <Tabs.Root value={steps[step].id} onValueChange={(id) => {
          const i = steps.findIndex((st) => st.id === id);
          if (i >= 0) (i < step ? setStep(i) : goto(i));
        }} activationMode="manual">
          <Tabs.List className="wizard-steps" aria-label="Steps">
            {steps.map((s) => (
              <Tabs.Trigger key={s.id} value={s.id} className="tab" data-step={s.id}>
                {s.title}{s.fields.some((f) => form.errors[f]) ? ' ⚠' : ''}
              </Tabs.Trigger>
            ))}
          </Tabs.List>
        </Tabs.Root>
        {form.message ? <div className="form-message" role="alert">{form.message}</div> : null}
        <form className="dialog-form" noValidate onSubmit={(e) => { e.preventDefault(); if (step < last) goto(step + 1); else void finish(); }}>
          <FormView model={form} only={steps[step].fields} message={false} />
          {confirm.length ? (
            <table className="kv-table wizard-summary" aria-label="Settings">
              <tbody>{confirm.map(([k, x]) => <tr key={k}><th scope="row">{k}</th><td data-key={k}>{String(x)}</td></tr>)}</tbody>
            </table>
          ) : null}
          <button type="submit" hidden />
        </form>
      </div>
      <div className="window-buttons">
        <button type="button" className="btn" onClick={() => close(null)} disabled={busy}>Cancel</button>
        <span className="spacer" />
        <button type="button" className="btn" disabled={step === 0 || busy} onClick={() => setStep(step - 1)}>Back</button>
        {step < last
          ? <button type="button" className="btn primary" onClick={() => goto(step + 1)}>Next</button>
          : <button type="button" className="btn primary" disabled={busy} onClick={() => void finish()}>Finish</button>}
      </div>
    </>
  );
}

export function openWizard(opts: WizardOptions): void {
  const win = openWindow({ title: opts.title, width: 760, className: opts.className }, () => (
    <WizardBody opts={opts} close={(upid, values) => {
      win.close();
      if (upid && values) opts.done(upid, values);
    }} />
  ));
}
